-- Wake-ups for idle kernels (issue 20): a statement that queues tasks, or inserts webhook deliveries, sends one
-- NOTIFY at commit to every kernel LISTENing. A wake-up only: the kernels still poll as a safety net, so a
-- notification that is lost (listener reconnecting) delays work, never loses it. Statement-level triggers with
-- transition tables keep a bulk insert at one notification (PostgreSQL also folds duplicates per transaction).
CREATE FUNCTION webencode_notify_tasks_queued() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows WHERE status = 'queued') THEN
    PERFORM pg_notify('webencode_tasks', '');
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER tasks_notify_insert AFTER INSERT ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION webencode_notify_tasks_queued();
--> statement-breakpoint
CREATE TRIGGER tasks_notify_update AFTER UPDATE ON tasks REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION webencode_notify_tasks_queued();
--> statement-breakpoint
CREATE FUNCTION webencode_notify_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM new_rows) THEN
    PERFORM pg_notify('webencode_webhooks', '');
  END IF;
  RETURN NULL;
END $$;
--> statement-breakpoint
CREATE TRIGGER webhook_deliveries_notify_insert AFTER INSERT ON webhook_deliveries REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION webencode_notify_webhook_deliveries();
