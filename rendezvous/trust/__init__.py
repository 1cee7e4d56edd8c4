"""Who may decide: approvers' keys, signed decisions, and the identities they carry."""
