-- 003: reference data every installation needs: the first-level request
-- categories (the classifier's labels), their common subcategories, and the
-- default deadline policy.

INSERT INTO categories (code, name, parent, keywords) VALUES
    ('construction', '城乡建设', NULL, '{}'),
    ('labour', '劳动和社会保障', NULL, '{}'),
    ('education', '教育文体', NULL, '{}'),
    ('commerce', '商贸旅游', NULL, '{}'),
    ('environment', '环境保护', NULL, '{}'),
    ('health', '卫生计生', NULL, '{}'),
    ('transport', '交通运输', NULL, '{}');

-- Subcategories refine a first-level category by keyword, so that gas leaks
-- reach the gas utility and bus complaints the transit company.
INSERT INTO categories (code, name, parent, keywords) VALUES
    ('construction.gas', '燃气', 'construction', '{燃气,天然气,煤气,燃气表,燃气管道}'),
    ('construction.water', '供水', 'construction', '{停水,供水,自来水,水压,水表}'),
    ('construction.power', '供电', 'construction', '{停电,供电,电表,电压不稳,断电}'),
    ('construction.property', '物业管理', 'construction', '{物业,业委会,物业费,小区管理}'),
    ('transport.bus', '公交', 'transport', '{公交,公交车,公交站,公交线路,公交司机}'),
    ('transport.taxi', '出租车', 'transport', '{出租车,的士,网约车,打车}'),
    ('environment.noise', '噪声', 'environment', '{噪音,噪声,扰民}');

-- Defaults after Guangdong's rules (广东省12345政务服务便民热线管理办法, 2022):
-- consultation 2, help and suggestion 10, complaint and report 15 working
-- days; urgent requests: contact within 30 minutes, finished within 24 hours.
-- Sign-in within 24 hours; first contact within 1 working day.
INSERT INTO deadline_policy
    (request_type, urgency, region, sign_limit, sign_unit, contact_limit, contact_unit,
     reply_limit, reply_unit, max_extensions, extension_limit, extension_unit,
     return_window, return_unit)
VALUES
    ('*',            '*',        '*', 24, 'hours',   1, 'working_days', 10, 'working_days', 1, 10, 'working_days', 2, 'working_days'),
    ('consultation', '*',        '*', 24, 'hours',   1, 'working_days',  2, 'working_days', 1,  2, 'working_days', 1, 'working_days'),
    ('help',         '*',        '*', 24, 'hours',   1, 'working_days', 10, 'working_days', 1, 10, 'working_days', 2, 'working_days'),
    ('suggestion',   '*',        '*', 24, 'hours',   1, 'working_days', 10, 'working_days', 1, 10, 'working_days', 2, 'working_days'),
    ('complaint',    '*',        '*', 24, 'hours',   1, 'working_days', 15, 'working_days', 1, 10, 'working_days', 2, 'working_days'),
    ('report',       '*',        '*', 24, 'hours',   1, 'working_days', 15, 'working_days', 1, 10, 'working_days', 2, 'working_days'),
    ('*',            'urgent',   '*', 15, 'minutes', 30, 'minutes',     24, 'hours',        1,  24, 'hours',       2, 'hours'),
    ('*',            'critical', '*', 10, 'minutes', 30, 'minutes',     24, 'hours',        1,  24, 'hours',       1, 'hours');

-- Rule-layer keywords of the first-level categories. The trained classifier
-- replaces them as the primary signal; they stay as a fallback and as the
-- classifier of a fresh installation without a model. Written for this
-- project; edit freely (routers reload on change).
UPDATE categories SET keywords = v.k FROM (VALUES
    ('construction', '{小区,物业,房屋,住房,拆迁,征收,安置,违建,违章建筑,楼盘,开发商,房产证,不动产,公租房,棚改,路灯,下水道,排水,积水,电梯,装修,规划,市政,管网,城管,占道,绿化,供暖,暖气,燃气,停水,停电,施工}'::text[]),
    ('labour', '{工资,欠薪,拖欠工资,社保,社会保险,养老保险,医疗保险,失业保险,工伤,劳动合同,劳动仲裁,公积金,退休,养老金,辞退,加班费,人社,就业,招聘,农民工,低保,补贴,用人单位}'),
    ('education', '{学校,学生,老师,教师,幼儿园,小学,中学,高中,大学,招生,入学,学位,学区,补课,培训机构,教育,体育,健身,图书馆,文化,考试,学费,校车,班主任}'),
    ('commerce', '{商家,商场,超市,消费者,退款,价格,假冒,质量问题,售后,旅游,景区,导游,酒店,餐馆,食品安全,快递,传销,市场,摊贩,网购,商户,门店}'),
    ('environment', '{污染,环保,排污,废气,废水,油烟,噪音,噪声,扰民,臭味,异味,粉尘,扬尘,河道,水质,化工厂,养殖场,环评,垃圾焚烧,偷排}'),
    ('health', '{医院,医生,看病,诊所,卫生院,疫苗,药品,药店,计划生育,生育,二孩,独生子女,护士,医疗,病人,手术,挂号,卫健,准生证,医护}'),
    ('transport', '{公交,公交车,出租车,网约车,交通,高速,收费站,客运,地铁,红绿灯,停车,驾照,车辆,运输,站台,班车,火车,道路拥堵,公路}')
) AS v (code, k)
WHERE categories.code = v.code;

-- Emergency phrases: a match marks the ticket urgent whatever the classifier
-- says and proposes a transfer to the named emergency service.
CREATE TABLE emergency_phrases (
    phrase   text PRIMARY KEY CHECK (length(phrase) > 0),
    service  text NOT NULL CHECK (service IN ('110', '119', '120', '122'))
);
CREATE TRIGGER emergency_phrases_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON emergency_phrases
    FOR EACH STATEMENT EXECUTE FUNCTION hl_notify_reference();

INSERT INTO emergency_phrases (phrase, service) VALUES
    ('起火', '119'), ('着火', '119'), ('火灾', '119'), ('冒烟', '119'), ('爆炸', '119'),
    ('燃气泄漏', '119'), ('煤气泄漏', '119'), ('天然气泄漏', '119'), ('闻到煤气', '119'), ('闻到燃气', '119'),
    ('被困', '119'), ('坍塌', '119'), ('塌方', '119'), ('触电', '120'),
    ('溺水', '110'), ('落水', '110'), ('跳楼', '110'), ('自杀', '110'),
    ('打人', '110'), ('持刀', '110'), ('杀人', '110'), ('家暴', '110'), ('绑架', '110'), ('抢劫', '110'),
    ('晕倒', '120'), ('昏迷', '120'), ('大出血', '120'),
    ('车祸', '122'), ('交通事故', '122');
