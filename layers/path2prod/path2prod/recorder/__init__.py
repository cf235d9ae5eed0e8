"""The recorder: CodePipeline state changes in, ledger entries and domain events out."""
