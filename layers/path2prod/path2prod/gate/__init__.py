"""The provenance gate: the Build stage of stg and prd is entered only by a commit the env's ledger backs."""
