-- 002: national working-day calendar for 2025 and 2026.
--
-- Only exceptions are stored: 'holiday' = a day off that would otherwise be a
-- working day or a weekend inside the holiday, 'workday' = a weekend make-up
-- working day (调休上班). Every other Monday-Friday is a working day.
--
-- 2025: 国务院办公厅关于2025年部分节假日安排的通知, 国办发明电〔2024〕12号 (2024-11-12).
-- 2026: 国务院办公厅关于2026年部分节假日安排的通知 (published November 2025).
-- Add each new year as a new migration when the State Council publishes it
-- (usually in November); until then deadlines in that year use the weekend rule.

INSERT INTO calendar_days (region, day, kind, name)
SELECT '*', d::date, 'holiday', n
FROM (VALUES
    -- 2025
    ('2025-01-01', '2025-01-01', '元旦'),
    ('2025-01-28', '2025-02-04', '春节'),
    ('2025-04-04', '2025-04-06', '清明节'),
    ('2025-05-01', '2025-05-05', '劳动节'),
    ('2025-05-31', '2025-06-02', '端午节'),
    ('2025-10-01', '2025-10-08', '国庆节、中秋节'),
    -- 2026
    ('2026-01-01', '2026-01-03', '元旦'),
    ('2026-02-15', '2026-02-23', '春节'),
    ('2026-04-04', '2026-04-06', '清明节'),
    ('2026-05-01', '2026-05-05', '劳动节'),
    ('2026-06-19', '2026-06-21', '端午节'),
    ('2026-09-25', '2026-09-27', '中秋节'),
    ('2026-10-01', '2026-10-07', '国庆节')
) AS h (first_day, last_day, n),
LATERAL generate_series(first_day::date, last_day::date, interval '1 day') AS d;

INSERT INTO calendar_days (region, day, kind, name) VALUES
    ('*', '2025-01-26', 'workday', '春节调休'),
    ('*', '2025-02-08', 'workday', '春节调休'),
    ('*', '2025-04-27', 'workday', '劳动节调休'),
    ('*', '2025-09-28', 'workday', '国庆节调休'),
    ('*', '2025-10-11', 'workday', '国庆节调休'),
    ('*', '2026-01-04', 'workday', '元旦调休'),
    ('*', '2026-02-14', 'workday', '春节调休'),
    ('*', '2026-02-28', 'workday', '春节调休'),
    ('*', '2026-05-09', 'workday', '劳动节调休'),
    ('*', '2026-09-20', 'workday', '国庆节调休'),
    ('*', '2026-10-10', 'workday', '国庆节调休');

INSERT INTO calendar_years (region, year, source) VALUES
    ('*', 2025, '国办发明电〔2024〕12号'),
    ('*', 2026, '国务院办公厅关于2026年部分节假日安排的通知');
