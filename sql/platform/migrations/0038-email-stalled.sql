-- Every worker's liveness tick looks for emails still queued and webhook deliveries still pending whose job will
-- never run again (platform_private.fail_stalled_emails): these partial indexes keep that look to the few rows in
-- flight, however many emails a platform has sent.
create index email_queued on platform_private.emails (id) where status = 'queued';
create index email_webhook_delivery_pending on platform_private.email_webhook_deliveries (id) where status = 'pending';
