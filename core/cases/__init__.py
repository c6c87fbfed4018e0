"""Cases: the complaint aggregate, its states, tiers and deadlines."""
