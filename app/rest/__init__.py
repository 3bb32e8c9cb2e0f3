"""HTTP edges other than GraphQL: Twilio webhooks, health checks and the legacy REST contract."""
