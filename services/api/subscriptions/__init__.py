"""Alert subscriptions: endpoints, filters, formats, delivery log and redelivery."""
