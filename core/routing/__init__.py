"""Who handles what: category -> department -> handler, transfers, recusal."""
