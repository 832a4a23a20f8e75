"""attribution88.eval: scoring submissions against the test split, and reference models."""
