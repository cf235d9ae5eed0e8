"""What auditors ask of the ledgers: is the record intact, where is a commit, what happened when."""
