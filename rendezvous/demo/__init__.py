"""The loan-default demo: synthetic data, derived features, training recipes, inbox batches."""
