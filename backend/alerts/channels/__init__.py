"""Delivery channels: one module per provider, each turning a `Delivery` into the provider's
request and the provider's answer into a `SendResult` (backend/alerts/channels/base.py)."""
