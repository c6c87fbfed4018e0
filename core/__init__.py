"""tousu domain core: cases, tiers, deadlines and routing. Standard library only."""
