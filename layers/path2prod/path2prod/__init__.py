"""path2prod: serverless gitops bookkeeping for a dev -> stg -> prd path to production."""

ENVS = ("dev", "stg", "prd")
