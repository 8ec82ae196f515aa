"""The inbound SCIM 2.0 server under `/scim/v2/` (RFC 7643, RFC 7644) for HR systems:
docs/scim-inbound.md."""
