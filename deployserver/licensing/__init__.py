"""Signed licenses: signing keys (generation, sealing at rest, JWKS) and verification."""
