"""The HTTP API: route tables, auth, errors and the OpenAPI document."""
