-- Demo city (示范市) for development, tests and the demo service. Region codes
-- start with 99 so they never collide with a real GB/T 2260 division code.
-- Loaded by `hotline-migrate --demo`; safe to apply repeatedly.

INSERT INTO regions (code, name, parent, level) VALUES
    ('990100', '示范市', NULL, 1),
    ('990101', '江北区', '990100', 2),
    ('990102', '江南区', '990100', 2),
    ('990103', '高新区', '990100', 2),
    ('990101001', '滨江街道', '990101', 3),
    ('990101002', '望湖街道', '990101', 3),
    ('990101003', '北站街道', '990101', 3),
    ('990102001', '南湖街道', '990102', 3),
    ('990102002', '古城街道', '990102', 3),
    ('990102003', '新港街道', '990102', 3),
    ('990103001', '科技城街道', '990103', 3),
    ('990103002', '创新街道', '990103', 3)
ON CONFLICT (code) DO NOTHING;

INSERT INTO units (code, name, kind, region) VALUES
    ('OFFICE', '示范市12345热线办公室', 'office', '990100'),
    ('HOUSING', '示范市住房和城乡建设局', 'department', '990100'),
    ('HRSS', '示范市人力资源和社会保障局', 'department', '990100'),
    ('EDU', '示范市教育局', 'department', '990100'),
    ('MARKET', '示范市市场监督管理局', 'department', '990100'),
    ('ECO', '示范市生态环境局', 'department', '990100'),
    ('HEALTH', '示范市卫生健康委员会', 'department', '990100'),
    ('TRANSPORT', '示范市交通运输局', 'department', '990100'),
    ('GAS', '示范燃气集团有限公司', 'utility', '990100'),
    ('WATER', '示范水务集团有限公司', 'utility', '990100'),
    ('POWER', '示范供电公司', 'utility', '990100'),
    ('TRANSIT', '示范公交集团有限公司', 'utility', '990100'),
    ('JB_GOV', '江北区人民政府', 'district', '990101'),
    ('JN_GOV', '江南区人民政府', 'district', '990102'),
    ('GX_GOV', '高新区管理委员会', 'district', '990103'),
    ('JB_HOUSING', '江北区住房和城乡建设局', 'department', '990101'),
    ('JN_HOUSING', '江南区住房和城乡建设局', 'department', '990102'),
    ('GX_HOUSING', '高新区建设局', 'department', '990103'),
    ('JB_ECO', '示范市生态环境局江北分局', 'department', '990101'),
    ('JN_ECO', '示范市生态环境局江南分局', 'department', '990102'),
    ('GX_ECO', '示范市生态环境局高新分局', 'department', '990103'),
    ('ST_BINJIANG', '滨江街道办事处', 'street', '990101001'),
    ('ST_WANGHU', '望湖街道办事处', 'street', '990101002'),
    ('ST_BEIZHAN', '北站街道办事处', 'street', '990101003'),
    ('ST_NANHU', '南湖街道办事处', 'street', '990102001'),
    ('ST_GUCHENG', '古城街道办事处', 'street', '990102002'),
    ('ST_XINGANG', '新港街道办事处', 'street', '990102003'),
    ('ST_KEJICHENG', '科技城街道办事处', 'street', '990103001'),
    ('ST_CHUANGXIN', '创新街道办事处', 'street', '990103002')
ON CONFLICT (code) DO NOTHING;

-- The city-level row of each category is its default unit.
INSERT INTO catalogue (category, region, lead_unit, assisting_units) VALUES
    ('construction', '990100', 'HOUSING', '{}'),
    ('construction', '990101', 'JB_HOUSING', '{}'),
    ('construction', '990102', 'JN_HOUSING', '{}'),
    ('construction', '990103', 'GX_HOUSING', '{}'),
    ('construction.gas', '990100', 'GAS', '{}'),
    ('construction.water', '990100', 'WATER', '{}'),
    ('construction.power', '990100', 'POWER', '{}'),
    ('construction.property', '990100', 'HOUSING', '{}'),
    ('construction.property', '990101001', 'ST_BINJIANG', '{JB_HOUSING}'),
    ('construction.property', '990101002', 'ST_WANGHU', '{JB_HOUSING}'),
    ('construction.property', '990101003', 'ST_BEIZHAN', '{JB_HOUSING}'),
    ('construction.property', '990102001', 'ST_NANHU', '{JN_HOUSING}'),
    ('construction.property', '990102002', 'ST_GUCHENG', '{JN_HOUSING}'),
    ('construction.property', '990102003', 'ST_XINGANG', '{JN_HOUSING}'),
    ('construction.property', '990103001', 'ST_KEJICHENG', '{GX_HOUSING}'),
    ('construction.property', '990103002', 'ST_CHUANGXIN', '{GX_HOUSING}'),
    ('labour', '990100', 'HRSS', '{}'),
    ('education', '990100', 'EDU', '{}'),
    ('commerce', '990100', 'MARKET', '{}'),
    ('environment', '990100', 'ECO', '{}'),
    ('environment', '990101', 'JB_ECO', '{}'),
    ('environment', '990102', 'JN_ECO', '{}'),
    ('environment', '990103', 'GX_ECO', '{}'),
    ('environment.noise', '990101', 'JB_ECO', '{JB_GOV}'),
    ('environment.noise', '990102', 'JN_ECO', '{JN_GOV}'),
    ('environment.noise', '990103', 'GX_ECO', '{GX_GOV}'),
    ('health', '990100', 'HEALTH', '{}'),
    ('transport', '990100', 'TRANSPORT', '{}'),
    ('transport.bus', '990100', 'TRANSIT', '{TRANSPORT}'),
    ('transport.taxi', '990100', 'TRANSPORT', '{}')
ON CONFLICT (category, region) DO NOTHING;
