"""The reconciler: CodePipeline's own history in, the ledger's missing deployment entries out."""
