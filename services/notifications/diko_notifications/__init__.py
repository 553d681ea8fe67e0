"""diko notifications: staff, subscriptions, e-mails with signed action links, delivery log."""
