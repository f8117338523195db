-- 010: the hotline's figures, defined as data over the event log.
--
-- A counter counts events: those of the kinds listed (optionally entering
-- one of to_states, with a payload value among payload_values -- or, with
-- payload_values NULL, carrying payload_key at all -- or on time: at or
-- before the event's deadline in force for on_time's clock). Each event is
-- counted on its day for the ticket's unit at the event and the ticket's
-- category, region and channel, so the same definitions can be kept live
-- (counted as events happen) and recomputed exactly from ticket_events for
-- any period. A rate is one counter over another.
--
-- Exclusions are rulings (metric_rulings): a ticket ruled out of a counter
-- (e.g. an unreasonable request, 不合理诉求, out of the satisfaction figures)
-- stays in the log; the ruling, its reason and who made it are kept, and
-- the figures leave the ticket out of that counter from then on.
CREATE TABLE metric_counters (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
    label           text NOT NULL,                 -- Chinese, for dashboards
    kinds           text[] NOT NULL,
    to_states       text[],
    payload_key     text,
    payload_values  text[],
    on_time         text CHECK (on_time IN ('sign', 'contact', 'reply', 'callback')),
    description     text NOT NULL
);

CREATE TABLE metric_rates (
    name            text PRIMARY KEY CHECK (name ~ '^[a-z][a-z0-9_]{0,47}$'),
    label           text NOT NULL,
    numerator       text NOT NULL REFERENCES metric_counters (name),
    denominator     text NOT NULL REFERENCES metric_counters (name),
    description     text NOT NULL
);

CREATE TABLE metric_rulings (
    id              bigserial PRIMARY KEY,
    ticket_id       bigint NOT NULL,
    counters        text[] NOT NULL,               -- the counters it is ruled out of
    reason          text NOT NULL CHECK (length(reason) > 0),
    ruled_by        text NOT NULL,
    ruled_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX metric_rulings_ticket ON metric_rulings (ticket_id);
CREATE TRIGGER metric_rulings_frozen BEFORE UPDATE OR DELETE ON metric_rulings
    FOR EACH ROW EXECUTE FUNCTION hl_kb_frozen();

INSERT INTO metric_counters (name, label, kinds, to_states, payload_key, payload_values, on_time, description) VALUES
    ('accepted', '受理', '{intake}', NULL, NULL, NULL, NULL, 'requests taken in (every channel)'),
    ('direct_closed', '直接办结', '{close_direct}', NULL, NULL, NULL, NULL, 'answered at first contact, not dispatched'),
    ('dispatched', '派单', '{intake,dispatch,approve_return}', '{DISPATCHED}', NULL, NULL, NULL,
     'dispatches to a unit (at intake or by the office; a re-dispatch after a return counts again: 改派)'),
    ('signed', '签收', '{sign}', NULL, NULL, NULL, NULL, 'taken by the lead unit'),
    ('contacted', '先行联系', '{contact}', NULL, NULL, NULL, NULL, 'the unit contacted the requester'),
    ('contacted_on_time', '按时联系', '{contact}', NULL, NULL, NULL, 'contact',
     'contacted by the contact deadline in force (the response figure, 响应率)'),
    ('replied', '答复', '{reply}', NULL, NULL, NULL, NULL, 'replies by the lead unit'),
    ('replied_on_time', '按时答复', '{reply}', NULL, NULL, NULL, 'reply',
     'replies by the reply deadline in force (approved extensions included)'),
    ('closed', '办结', '{close}', NULL, NULL, NULL, NULL, 'closed after callback (办结)'),
    ('finished', '办结（含直接办结）', '{close,close_direct}', NULL, NULL, NULL, NULL,
     'closed after callback or at first contact'),
    ('returned', '退单申请', '{return}', NULL, NULL, NULL, NULL, 'returns asked by units'),
    ('return_approved', '退单通过', '{approve_return}', NULL, NULL, NULL, NULL, 'returns the office approved'),
    ('extension_approved', '延期通过', '{approve_extension}', NULL, NULL, NULL, NULL, 'extensions granted'),
    ('reopened', '重办', '{reopen}', NULL, NULL, NULL, NULL, 'reopened after a poor rating or a review'),
    ('overdue', '超期', '{notify}', NULL, 'notice', '{overdue}', NULL, 'deadlines passed (any clock, once each)'),
    ('supervised', '督办', '{notify}', NULL, 'notice', '{supervision}', NULL, 'supervision notices'),
    ('callback_rated', '有效回访', '{callback}', NULL, 'outcome', '{rated}', NULL, 'callbacks that obtained a rating'),
    ('resolved', '已解决', '{callback}', NULL, 'resolution', '{resolved}', NULL, 'rated resolved at callback'),
    ('satisfied', '满意（含基本满意）', '{callback}', NULL, 'satisfaction', '{satisfied,basically}', NULL,
     'rated satisfied or basically satisfied at callback'),
    ('kb_direct', '引用知识库的直接办结', '{close_direct}', NULL, 'kb_entry', NULL, NULL,
     'answers at first contact citing a knowledge-base entry');

INSERT INTO metric_rates (name, label, numerator, denominator, description) VALUES
    ('completion_rate', '办结率', 'finished', 'accepted', 'closed (after callback or at first contact) / accepted'),
    ('direct_resolution_rate', '直接办结率', 'direct_closed', 'accepted', 'closed at first contact / accepted'),
    ('response_rate', '响应率', 'contacted_on_time', 'dispatched', 'contacted on time / dispatched'),
    ('on_time_rate', '按时办结率', 'replied_on_time', 'replied', 'replies on time / replies'),
    ('resolution_rate', '解决率', 'resolved', 'callback_rated', 'rated resolved / valid ratings'),
    ('satisfaction_rate', '满意率', 'satisfied', 'callback_rated', '(satisfied + basically) / valid ratings'),
    ('return_rate', '退单率', 'returned', 'dispatched', 'returns asked / dispatches'),
    ('extension_rate', '延期率', 'extension_approved', 'dispatched', 'extensions granted / dispatches'),
    ('overdue_rate', '超期率', 'overdue', 'dispatched', 'deadlines passed / dispatches'),
    ('callback_rate', '回访率', 'callback_rated', 'closed', 'valid ratings / closed after callback'),
    ('kb_adoption_rate', '知识库采纳率', 'kb_direct', 'direct_closed', 'first-contact answers citing the KB / all');

-- Every counter for events in [p_from, p_to), per unit (the ticket's at the
-- event; '' for none), optionally of one unit, category (or a parent's),
-- region and channel; a ruling leaves its ticket out of its counters.
CREATE FUNCTION hl_metric_counts(p_from timestamptz, p_to timestamptz, p_unit text, p_category text,
                                 p_region text, p_channel text)
RETURNS TABLE (unit text, counter text, n bigint)
LANGUAGE sql STABLE AS $$
    SELECT coalesce(e.unit, ''), c.name, count(*)
    FROM ticket_events e
    JOIN tickets t ON t.id = e.ticket_id
    JOIN metric_counters c ON e.kind = ANY (c.kinds)
        AND (c.to_states IS NULL OR e.to_state = ANY (c.to_states))
        AND (c.payload_key IS NULL OR CASE WHEN c.payload_values IS NULL THEN e.payload ? c.payload_key
                                           ELSE e.payload->>c.payload_key = ANY (c.payload_values) END)
        AND (c.on_time IS NULL OR e.at <= CASE c.on_time WHEN 'sign' THEN e.sign_due
                                                         WHEN 'contact' THEN e.contact_due
                                                         WHEN 'reply' THEN e.reply_due
                                                         ELSE e.callback_due END)
    WHERE e.at >= p_from AND e.at < p_to
      AND (p_unit IS NULL OR e.unit = p_unit)
      AND (p_category IS NULL OR t.category = p_category OR t.category LIKE p_category || '.%')
      AND (p_region IS NULL OR t.region = p_region)
      AND (p_channel IS NULL OR t.channel = p_channel)
      AND NOT EXISTS (SELECT 1 FROM metric_rulings r WHERE r.ticket_id = e.ticket_id AND c.name = ANY (r.counters))
    GROUP BY 1, 2
$$;
