-- 013: figures that depend on a ticket's history.
--
-- Some rates count an event only if the ticket had (or had not) been
-- through something before: 一次办结率 counts closes of tickets never
-- returned, re-dispatched or reopened; 首派准确率 closes of tickets whose
-- first unit was final; 督办件解决率 ratings of supervised tickets. A
-- counter names such conditions as other counters: history_any (some event
-- of the ticket up to this one was counted by one of them) and history_none
-- (none was). They may name only the counters the ticket keeps a count of
-- (tickets.return_count, reopen_count, supervision, parent_id), so the
-- router can tell at the event without reading the log; hl_metric_matches
-- reads the log. A counter may also count anonymous requests only (true)
-- or named ones only (false): 回访率 is over the tickets that take a
-- callback, and an anonymous request takes none.
ALTER TABLE metric_counters
    ADD COLUMN history_any text[] CHECK (history_any <@ '{return_approved,reopened,supervised,merged}'),
    ADD COLUMN history_none text[] CHECK (history_none <@ '{return_approved,reopened,supervised,merged}'),
    ADD COLUMN anonymous boolean;

INSERT INTO metric_counters (name, label, kinds, to_states, payload_key, payload_values, on_time, description) VALUES
    ('merged', '并单（重复诉求）', '{merge}', NULL, NULL, NULL, NULL,
     'requests joined to an open ticket as repeats of it (并单)'),
    ('signed_on_time', '按时签收', '{sign}', NULL, NULL, NULL, 'sign', 'signed by the sign deadline in force');
INSERT INTO metric_counters (name, label, kinds, history_none, description) VALUES
    ('first_time', '一次办结', '{close}', '{return_approved,reopened,merged}',
     'closed after callback, never returned (so never re-dispatched: 改派) nor reopened (重办)'),
    ('first_unit_final', '首派准确', '{close}', '{return_approved,merged}',
     'closed after callback by the unit first dispatched to (no approved return)');
INSERT INTO metric_counters (name, label, kinds, payload_key, payload_values, history_any, description) VALUES
    ('supervised_rated', '督办件有效回访', '{callback}', 'outcome', '{rated}', '{supervised}',
     'callbacks that obtained a rating, of tickets under supervision (督办)'),
    ('supervised_resolved', '督办件已解决', '{callback}', 'resolution', '{resolved}', '{supervised}',
     'rated resolved at callback, of tickets under supervision');
INSERT INTO metric_counters (name, label, kinds, anonymous, description) VALUES
    ('callback_required', '应回访', '{review_accept}', false,
     'replies accepted for callback, of named (not anonymous) requests: each calls for a callback');
-- A merged duplicate closes with its parent: finished, but not a close
-- after callback of its own.
UPDATE metric_counters SET history_none = '{merged}',
    description = 'closed after callback (办结); merged duplicates closing with their parent are not'
    WHERE name = 'closed';
UPDATE metric_rates SET denominator = 'callback_required',
    description = 'valid ratings / replies accepted for callback (anonymous requests take none)'
    WHERE name = 'callback_rate';

INSERT INTO metric_rates (name, label, numerator, denominator, description) VALUES
    ('first_time_completion_rate', '一次办结率', 'first_time', 'closed',
     'closes never returned, re-dispatched or reopened / closes after callback'),
    ('first_dispatch_accuracy', '首派准确率', 'first_unit_final', 'closed',
     'closes by the unit first dispatched to / closes after callback'),
    ('sign_on_time_rate', '签收及时率', 'signed_on_time', 'dispatched', 'signed on time / dispatched'),
    ('repeat_rate', '重复诉求率', 'merged', 'accepted', 'requests merged as repeats / accepted'),
    ('supervised_resolution_rate', '督办件解决率', 'supervised_resolved', 'supervised_rated',
     'supervised tickets rated resolved / supervised tickets with a valid rating');

-- Whether an event (its kind, new state, payload, time and deadlines in
-- force) is counted by a counter's event rules (not its history rules).
CREATE FUNCTION hl_metric_hit(c_kinds text[], c_to_states text[], c_payload_key text, c_payload_values text[],
                              c_on_time text, e_kind text, e_to_state text, e_payload jsonb, e_at timestamptz,
                              e_sign_due timestamptz, e_contact_due timestamptz, e_reply_due timestamptz,
                              e_callback_due timestamptz)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT e_kind = ANY (c_kinds)
        AND (c_to_states IS NULL OR e_to_state = ANY (c_to_states))
        AND (c_payload_key IS NULL OR CASE WHEN c_payload_values IS NULL THEN e_payload ? c_payload_key
                                           ELSE e_payload->>c_payload_key = ANY (c_payload_values) END)
        AND (c_on_time IS NULL OR e_at <= CASE c_on_time WHEN 'sign' THEN e_sign_due
                                                         WHEN 'contact' THEN e_contact_due
                                                         WHEN 'reply' THEN e_reply_due
                                                         ELSE e_callback_due END)
$$;

-- Whether the ticket's events from its creation up to and including seq
-- were counted by any of the counters named.
CREATE FUNCTION hl_metric_had(p_ticket bigint, p_created timestamptz, p_seq integer, p_at timestamptz,
                              p_counters text[])
RETURNS boolean LANGUAGE sql STABLE AS $$
    SELECT EXISTS (
        SELECT 1 FROM ticket_events e
        JOIN metric_counters c ON c.name = ANY (p_counters)
            AND hl_metric_hit(c.kinds, c.to_states, c.payload_key, c.payload_values, c.on_time, e.kind,
                              e.to_state, e.payload, e.at, e.sign_due, e.contact_due, e.reply_due, e.callback_due)
        WHERE e.ticket_id = p_ticket AND e.seq <= p_seq AND e.at >= p_created AND e.at <= p_at)
$$;

CREATE OR REPLACE FUNCTION hl_metric_matches(p_from timestamptz, p_to timestamptz)
RETURNS TABLE (ticket_id bigint, at timestamptz, counter text, unit text, category text, region text,
               channel text)
LANGUAGE sql STABLE AS $$
    SELECT e.ticket_id, e.at, c.name, coalesce(e.unit, ''), t.category, coalesce(t.region, ''), t.channel
    FROM ticket_events e
    JOIN tickets t ON t.id = e.ticket_id
    JOIN metric_counters c ON hl_metric_hit(c.kinds, c.to_states, c.payload_key, c.payload_values, c.on_time,
                                            e.kind, e.to_state, e.payload, e.at, e.sign_due, e.contact_due,
                                            e.reply_due, e.callback_due)
    WHERE e.at >= p_from AND e.at < p_to
      AND (c.anonymous IS NULL OR t.anonymous = c.anonymous)
      AND (c.history_any IS NULL OR hl_metric_had(e.ticket_id, t.created_at, e.seq, e.at, c.history_any))
      AND (c.history_none IS NULL OR NOT hl_metric_had(e.ticket_id, t.created_at, e.seq, e.at, c.history_none))
$$;
