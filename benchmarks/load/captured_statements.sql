-- Statements a Prefect 3.9.1 server sent to PostgreSQL 15 for one flow run of 10 short tasks
-- and the UI's common reads, in the order first seen (benchmarks/load/capture_statements.sh).
-- Multi-row INSERTs are shown once, as first seen.

DELETE FROM automation_held_event WHERE automation_held_event.updated < $1::TIMESTAMP WITH TIME ZONE AND NOT (EXISTS (SELECT * 
FROM automation_bucket 
WHERE automation_bucket.automation_id = automation_held_event.automation_id AND automation_bucket.trigger_id = automation_held_event.trigger_id AND automation_bucket.bucketing_key = automation_held_event.bucketing_key AND automation_bucket."end" > $2::TIMESTAMP WITH TIME ZONE)) RETURNING automation_held_event.id;

SELECT max(automation.updated) AS max_1, count(automation.id) AS count_1 
FROM automation;

DELETE FROM automation_bucket WHERE automation_bucket."end" <= $1::TIMESTAMP WITH TIME ZONE;

SELECT deployment.id 
FROM deployment 
WHERE deployment.paused IS NOT true AND deployment.updated >= $1::TIMESTAMP WITH TIME ZONE AND (EXISTS (SELECT deployment_schedule.deployment_id 
FROM deployment_schedule 
WHERE deployment_schedule.deployment_id = deployment.id AND deployment_schedule.active IS true)) ORDER BY deployment.id 
 LIMIT $2::INTEGER;

SELECT flow_run.id, flow_run.next_scheduled_start_time 
FROM flow_run 
WHERE flow_run.next_scheduled_start_time <= $1::TIMESTAMP WITH TIME ZONE AND flow_run.state_type = $2::state_type AND flow_run.state_name = $3::VARCHAR 
 LIMIT $4::INTEGER;

SELECT flow_run.flow_id, flow_run.deployment_id, flow_run.work_queue_name, flow_run.flow_version, flow_run.deployment_version, flow_run.parameters, flow_run.idempotency_key, flow_run.context, flow_run.empirical_policy, flow_run.tags, flow_run.labels, flow_run.created_by, flow_run.infrastructure_pid, flow_run.job_variables, flow_run.infrastructure_document_id, flow_run.parent_task_run_id, flow_run.auto_scheduled, flow_run.state_id, flow_run.work_queue_id, flow_run.name, flow_run.state_type, flow_run.state_name, flow_run.state_timestamp, flow_run.run_count, flow_run.expected_start_time, flow_run.next_scheduled_start_time, flow_run.start_time, flow_run.end_time, flow_run.total_run_time, flow_run.id, flow_run.created, flow_run.updated 
FROM flow_run 
WHERE flow_run.state_type = $1::state_type AND flow_run.id > $2::UUID ORDER BY flow_run.id 
 LIMIT $3::INTEGER;

INSERT INTO flow (name, tags, labels, id, created, updated) VALUES ($1::VARCHAR, $2::JSONB, $3::JSONB, $4::UUID, $5::TIMESTAMP WITH TIME ZONE, $6::TIMESTAMP WITH TIME ZONE) ON CONFLICT (name) DO NOTHING;

SELECT flow.name, flow.tags, flow.labels, flow.id, flow.created, flow.updated 
FROM flow 
WHERE flow.name = $1::VARCHAR 
 LIMIT $2::INTEGER;

SELECT flow.labels 
FROM flow 
WHERE flow.id = $1::UUID;

INSERT INTO flow_run (flow_id, deployment_id, work_queue_name, flow_version, deployment_version, parameters, idempotency_key, context, empirical_policy, tags, labels, created_by, infrastructure_pid, job_variables, infrastructure_document_id, parent_task_run_id, auto_scheduled, state_id, work_queue_id, name, state_type, state_name, state_timestamp, run_count, expected_start_time, next_scheduled_start_time, start_time, end_time, total_run_time, id, created, updated) VALUES ($1::UUID, $2::UUID, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, $6::JSONB, $7::VARCHAR, $8::JSONB, $9, $10::JSONB, $11::JSONB, $12, $13::VARCHAR, $14::JSONB, $15::UUID, $16::UUID, $17::BOOLEAN, $18::UUID, $19::UUID, $20::VARCHAR, $21::state_type, $22::VARCHAR, $23::TIMESTAMP WITH TIME ZONE, $24::INTEGER, $25::TIMESTAMP WITH TIME ZONE, $26::TIMESTAMP WITH TIME ZONE, $27::TIMESTAMP WITH TIME ZONE, $28::TIMESTAMP WITH TIME ZONE, $29::INTERVAL, $30::UUID, $31::TIMESTAMP WITH TIME ZONE, $32::TIMESTAMP WITH TIME ZONE);

SELECT flow_run.flow_id, flow_run.deployment_id, flow_run.work_queue_name, flow_run.flow_version, flow_run.deployment_version, flow_run.parameters, flow_run.idempotency_key, flow_run.context, flow_run.empirical_policy, flow_run.tags, flow_run.labels, flow_run.created_by, flow_run.infrastructure_pid, flow_run.job_variables, flow_run.infrastructure_document_id, flow_run.parent_task_run_id, flow_run.auto_scheduled, flow_run.state_id, flow_run.work_queue_id, flow_run.name, flow_run.state_type, flow_run.state_name, flow_run.state_timestamp, flow_run.run_count, flow_run.expected_start_time, flow_run.next_scheduled_start_time, flow_run.start_time, flow_run.end_time, flow_run.total_run_time, flow_run.id, flow_run.created, flow_run.updated 
FROM flow_run 
WHERE flow_run.id = $1::UUID FOR UPDATE;

SELECT flow_run_state.timestamp 
FROM flow_run_state 
WHERE flow_run_state.flow_run_id = $1::UUID AND flow_run_state.timestamp = $2::TIMESTAMP WITH TIME ZONE 
 LIMIT $3::INTEGER;

INSERT INTO flow_run_state (flow_run_id, type, timestamp, name, message, state_details, data, result_artifact_id, id, created, updated) VALUES ($1::UUID, $2::state_type, $3::TIMESTAMP WITH TIME ZONE, $4::VARCHAR, $5::VARCHAR, $6, $7::JSONB, $8::UUID, $9::UUID, $10::TIMESTAMP WITH TIME ZONE, $11::TIMESTAMP WITH TIME ZONE);

UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, state_name=$3::VARCHAR, state_timestamp=$4::TIMESTAMP WITH TIME ZONE, expected_start_time=$5::TIMESTAMP WITH TIME ZONE, updated=now() WHERE flow_run.id = $6::UUID RETURNING flow_run.updated;

SELECT flow.name, flow.tags, flow.labels, flow.id, flow.created, flow.updated 
FROM flow 
WHERE flow.id = $1::UUID;

SELECT flow_run_state.id, flow_run_state.flow_run_id, flow_run_state.type, flow_run_state.timestamp, flow_run_state.name, flow_run_state.message, flow_run_state.state_details, flow_run_state.data, flow_run_state.result_artifact_id, flow_run_state.created, flow_run_state.updated 
FROM flow_run_state 
WHERE flow_run_state.id IN ($1::UUID);

UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, state_name=$3::VARCHAR, state_timestamp=$4::TIMESTAMP WITH TIME ZONE, run_count=$5::INTEGER, start_time=$6::TIMESTAMP WITH TIME ZONE, updated=now() WHERE flow_run.id = $7::UUID RETURNING flow_run.updated;

SELECT flow_run.flow_id, flow_run.deployment_id, flow_run.work_queue_name, flow_run.flow_version, flow_run.deployment_version, flow_run.parameters, flow_run.idempotency_key, flow_run.context, flow_run.empirical_policy, flow_run.tags, flow_run.labels, flow_run.created_by, flow_run.infrastructure_pid, flow_run.job_variables, flow_run.infrastructure_document_id, flow_run.parent_task_run_id, flow_run.auto_scheduled, flow_run.state_id, flow_run.work_queue_id, flow_run.name, flow_run.state_type, flow_run.state_name, flow_run.state_timestamp, flow_run.run_count, flow_run.expected_start_time, flow_run.next_scheduled_start_time, flow_run.start_time, flow_run.end_time, flow_run.total_run_time, flow_run.id, flow_run.created, flow_run.updated 
FROM flow_run 
WHERE flow_run.id = $1::UUID;

SELECT configuration.value 
FROM configuration 
WHERE configuration.key = $1::VARCHAR;

INSERT INTO events (occurred, event, resource_id, resource, related_resource_ids, related, payload, received, recorded, follows, id, created, updated) VALUES ($1::TIMESTAMP WITH TIME ZONE, $2::VARCHAR, $3::VARCHAR, $4::JSONB, $5::JSONB, $6::JSONB, $7::JSONB, $8::TIMESTAMP WITH TIME ZONE, $9::TIMESTAMP WITH TIME ZONE, $10::UUID, $11::UUID, $12::TIMESTAMP WITH TIME ZONE, $13::TIMESTAMP WITH TIME ZONE), ($14::TIMESTAMP WITH TIME ZONE, $15::VARCHAR, $16::VARCHAR, $17::JSONB, $18::JSONB, $19::JSONB, $20::JSONB, $21::TIMESTAMP WITH TIME ZONE, $22::TIMESTAMP WITH TIME ZONE, $23::UUID, $24::UUID, $25::TIMESTAMP WITH TIME ZONE, $26::TIMESTAMP WITH TIME ZONE), ($27::TIMESTAMP WITH TIME ZONE, $28::VARCHAR, $29::VARCHAR, $30::JSONB, $31::JSONB, $32::JSONB, $33::JSONB, $34::TIMESTAMP WITH TIME ZONE, $35::TIMESTAMP WITH TIME ZONE, $36::UUID, $37::UUID, $38::TIMESTAMP WITH TIME ZONE, $39::TIMESTAMP WITH TIME ZONE) ON CONFLICT DO NOTHING RETURNING events.id;

INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id, id, created, updated) VALUES ($1::TIMESTAMP WITH TIME ZONE, $2::VARCHAR, $3::VARCHAR, $4::JSON, $5::UUID, $6::UUID, $7::TIMESTAMP WITH TIME ZONE, $8::TIMESTAMP WITH TIME ZONE);

UPDATE worker SET status=$1::worker_status, updated=now() WHERE EXTRACT(epoch FROM timezone($2::VARCHAR, now()) - timezone($3::VARCHAR, worker.last_heartbeat_time)) > coalesce(worker.heartbeat_interval_seconds, $4) * $5::INTEGER AND worker.status = $6::worker_status RETURNING worker.id;

SELECT work_pool.name, work_pool.description, work_pool.type, work_pool.base_job_template, work_pool.is_paused, work_pool.default_queue_id, work_pool.concurrency_limit, work_pool.status, work_pool.last_transitioned_status_at, work_pool.last_status_event_id, work_pool.storage_configuration, work_pool.id, work_pool.created, work_pool.updated 
FROM work_pool LEFT OUTER JOIN worker ON worker.work_pool_id = work_pool.id AND worker.status = $1::worker_status 
WHERE work_pool.status = $2::work_pool_status GROUP BY work_pool.id 
HAVING count(worker.id) = $3::INTEGER;

SELECT deployment.id 
FROM deployment LEFT OUTER JOIN work_queue ON work_queue.id = deployment.work_queue_id 
WHERE deployment.status = $1::deployment_status AND deployment.last_polled IS NOT NULL AND (work_queue.last_polled IS NULL AND deployment.last_polled < $2::TIMESTAMP WITH TIME ZONE OR work_queue.last_polled IS NOT NULL AND deployment.last_polled < $3::TIMESTAMP WITH TIME ZONE AND work_queue.last_polled < $4::TIMESTAMP WITH TIME ZONE);

SELECT work_queue.id 
FROM work_queue LEFT OUTER JOIN work_pool ON work_pool.id = work_queue.work_pool_id 
WHERE work_queue.status = $1::work_queue_status AND work_queue.last_polled IS NOT NULL AND work_queue.last_polled < $2::TIMESTAMP WITH TIME ZONE ORDER BY work_queue.last_polled ASC;

UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, state_name=$3::VARCHAR, state_timestamp=$4::TIMESTAMP WITH TIME ZONE, end_time=$5::TIMESTAMP WITH TIME ZONE, total_run_time=$6::INTERVAL, updated=now() WHERE flow_run.id = $7::UUID RETURNING flow_run.updated;

SELECT task_run.id, task_run.flow_run_id, task_run.task_key, task_run.dynamic_key 
FROM task_run 
WHERE task_run.id IN ($1::UUID) OR (task_run.flow_run_id, task_run.task_key, task_run.dynamic_key) IN (($2, $3, $4));

INSERT INTO task_run (flow_run_id, task_key, dynamic_key, flow_run_run_count, empirical_policy, task_inputs, tags, labels, state_id, name, state_type, state_name, state_timestamp, run_count, expected_start_time, total_run_time, id, created, updated) VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::INTEGER, $5, $6, $7::JSONB, $8::JSONB, $9::UUID, $10::VARCHAR, $11::state_type, $12::VARCHAR, $13::TIMESTAMP WITH TIME ZONE, $14::INTEGER, $15::TIMESTAMP WITH TIME ZONE, $16::INTERVAL, $17::UUID, $18::TIMESTAMP WITH TIME ZONE, $19::TIMESTAMP WITH TIME ZONE) ON CONFLICT (flow_run_id, task_key, dynamic_key) DO UPDATE SET flow_run_id = excluded.flow_run_id, task_key = excluded.task_key, dynamic_key = excluded.dynamic_key, flow_run_run_count = excluded.flow_run_run_count, empirical_policy = excluded.empirical_policy, task_inputs = excluded.task_inputs, tags = excluded.tags, labels = excluded.labels, state_id = excluded.state_id, name = excluded.name, state_type = excluded.state_type, state_name = excluded.state_name, state_timestamp = excluded.state_timestamp, run_count = excluded.run_count, expected_start_time = excluded.expected_start_time, total_run_time = excluded.total_run_time, updated = excluded.updated WHERE task_run.state_timestamp < excluded.state_timestamp;

SELECT task_run.flow_run_id, task_run.task_key, task_run.dynamic_key, task_run.id 
FROM task_run 
WHERE (task_run.flow_run_id, task_run.task_key, task_run.dynamic_key) IN (($1, $2, $3));

INSERT INTO task_run_state (task_run_id, type, timestamp, name, message, state_details, data, id, created, updated) VALUES ($1::UUID, $2::state_type, $3::TIMESTAMP WITH TIME ZONE, $4::VARCHAR, $5::VARCHAR, $6, $7::JSONB, $8::UUID, $9::TIMESTAMP WITH TIME ZONE, $10::TIMESTAMP WITH TIME ZONE) ON CONFLICT (id) DO NOTHING;

INSERT INTO log (name, level, flow_run_id, task_run_id, message, timestamp, id, created, updated) VALUES ($1::VARCHAR, $2::SMALLINT, $3::UUID, $4::UUID, $5::VARCHAR, $6::TIMESTAMP WITH TIME ZONE, $7::UUID, $8::TIMESTAMP WITH TIME ZONE, $9::TIMESTAMP WITH TIME ZONE), ($10::VARCHAR, $11::SMALLINT, $12::UUID, $13::UUID, $14::VARCHAR, $15::TIMESTAMP WITH TIME ZONE, $16::UUID, $17::TIMESTAMP WITH TIME ZONE, $18::TIMESTAMP WITH TIME ZONE), ($19::VARCHAR, $20::SMALLINT, $21::UUID, $22::UUID, $23::VARCHAR, $24::TIMESTAMP WITH TIME ZONE, $25::UUID, $26::TIMESTAMP WITH TIME ZONE, $27::TIMESTAMP WITH TIME ZONE), ($28::VARCHAR, $29::SMALLINT, $30::UUID, $31::UUID, $32::VARCHAR, $33::TIMESTAMP WITH TIME ZONE, $34::UUID, $35::TIMESTAMP WITH TIME ZONE, $36::TIMESTAMP WITH TIME ZONE), ($37::VARCHAR, $38::SMALLINT, $39::UUID, $40::UUID, $41::VARCHAR, $42::TIMESTAMP WITH TIME ZONE, $43::UUID, $44::TIMESTAMP WITH TIME ZONE, $45::TIMESTAMP WITH TIME ZONE), ($46::VARCHAR, $47::SMALLINT, $48::UUID, $49::UUID, $50::VARCHAR, $51::TIMESTAMP WITH TIME ZONE, $52::UUID, $53::TIMESTAMP WITH TIME ZONE, $54::TIMESTAMP WITH TIME ZONE), ($55::VARCHAR, $56::SMALLINT, $57::UUID, $58::UUID, $59::VARCHAR, $60::TIMESTAMP WITH TIME ZONE, $61::UUID, $62::TIMESTAMP WITH TIME ZONE, $63::TIMESTAMP WITH TIME ZONE), ($64::VARCHAR, $65::SMALLINT, $66::UUID, $67::UUID, $68::VARCHAR, $69::TIMESTAMP WITH TIME ZONE, $70::UUID, $71::TIMESTAMP WITH TIME ZONE, $72::TIMESTAMP WITH TIME ZONE), ($73::VARCHAR, $74::SMALLINT, $75::UUID, $76::UUID, $77::VARCHAR, $78::TIMESTAMP WITH TIME ZONE, $79::UUID, $80::TIMESTAMP WITH TIME ZONE, $81::TIMESTAMP WITH TIME ZONE), ($82::VARCHAR, $83::SMALLINT, $84::UUID, $85::UUID, $86::VARCHAR, $87::TIMESTAMP WITH TIME ZONE, $88::UUID, $89::TIMESTAMP WITH TIME ZONE, $90::TIMESTAMP WITH TIME ZONE), ($91::VARCHAR, $92::SMALLINT, $93::UUID, $94::UUID, $95::VARCHAR, $96::TIMESTAMP WITH TIME ZONE, $97::UUID, $98::TIMESTAMP WITH TIME ZONE, $99::TIMESTAMP WITH TIME ZONE), ($100::VARCHAR, $101::SMALLINT, $102::UUID, $103::UUID, $104::VARCHAR, $105::TIMESTAMP WITH TIME ZONE, $106::UUID, $107::TIMESTAMP WITH TIME ZONE, $108::TIMESTAMP WITH TIME ZONE), ($109::VARCHAR, $110::SMALLINT, $111::UUID, $112::UUID, $113::VARCHAR, $114::TIMESTAMP WITH TIME ZONE, $115::UUID, $116::TIMESTAMP WITH TIME ZONE, $117::TIMESTAMP WITH TIME ZONE), ($118::VARCHAR, $119::SMALLINT, $120::UUID, $121::UUID, $122::VARCHAR, $123::TIMESTAMP WITH TIME ZONE, $124::UUID, $125::TIMESTAMP WITH TIME ZONE, $126::TIMESTAMP WITH TIME ZONE), ($127::VARCHAR, $128::SMALLINT, $129::UUID, $130::UUID, $131::VARCHAR, $132::TIMESTAMP WITH TIME ZONE, $133::UUID, $134::TIMESTAMP WITH TIME ZONE, $135::TIMESTAMP WITH TIME ZONE), ($136::VARCHAR, $137::SMALLINT, $138::UUID, $139::UUID, $140::VARCHAR, $141::TIMESTAMP WITH TIME ZONE, $142::UUID, $143::TIMESTAMP WITH TIME ZONE, $144::TIMESTAMP WITH TIME ZONE), ($145::VARCHAR, $146::SMALLINT, $147::UUID, $148::UUID, $149::VARCHAR, $150::TIMESTAMP WITH TIME ZONE, $151::UUID, $152::TIMESTAMP WITH TIME ZONE, $153::TIMESTAMP WITH TIME ZONE), ($154::VARCHAR, $155::SMALLINT, $156::UUID, $157::UUID, $158::VARCHAR, $159::TIMESTAMP WITH TIME ZONE, $160::UUID, $161::TIMESTAMP WITH TIME ZONE, $162::TIMESTAMP WITH TIME ZONE), ($163::VARCHAR, $164::SMALLINT, $165::UUID, $166::UUID, $167::VARCHAR, $168::TIMESTAMP WITH TIME ZONE, $169::UUID, $170::TIMESTAMP WITH TIME ZONE, $171::TIMESTAMP WITH TIME ZONE), ($172::VARCHAR, $173::SMALLINT, $174::UUID, $175::UUID, $176::VARCHAR, $177::TIMESTAMP WITH TIME ZONE, $178::UUID, $179::TIMESTAMP WITH TIME ZONE, $180::TIMESTAMP WITH TIME ZONE), ($181::VARCHAR, $182::SMALLINT, $183::UUID, $184::UUID, $185::VARCHAR, $186::TIMESTAMP WITH TIME ZONE, $187::UUID, $188::TIMESTAMP WITH TIME ZONE, $189::TIMESTAMP WITH TIME ZONE), ($190::VARCHAR, $191::SMALLINT, $192::UUID, $193::UUID, $194::VARCHAR, $195::TIMESTAMP WITH TIME ZONE, $196::UUID, $197::TIMESTAMP WITH TIME ZONE, $198::TIMESTAMP WITH TIME ZONE), ($199::VARCHAR, $200::SMALLINT, $201::UUID, $202::UUID, $203::VARCHAR, $204::TIMESTAMP WITH TIME ZONE, $205::UUID, $206::TIMESTAMP WITH TIME ZONE, $207::TIMESTAMP WITH TIME ZONE);

INSERT INTO task_run (flow_run_id, task_key, dynamic_key, flow_run_run_count, empirical_policy, task_inputs, tags, labels, state_id, name, state_type, state_name, state_timestamp, run_count, expected_start_time, start_time, total_run_time, id, created, updated) VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::INTEGER, $5, $6, $7::JSONB, $8::JSONB, $9::UUID, $10::VARCHAR, $11::state_type, $12::VARCHAR, $13::TIMESTAMP WITH TIME ZONE, $14::INTEGER, $15::TIMESTAMP WITH TIME ZONE, $16::TIMESTAMP WITH TIME ZONE, $17::INTERVAL, $18::UUID, $19::TIMESTAMP WITH TIME ZONE, $20::TIMESTAMP WITH TIME ZONE) ON CONFLICT (flow_run_id, task_key, dynamic_key) DO UPDATE SET flow_run_id = excluded.flow_run_id, task_key = excluded.task_key, dynamic_key = excluded.dynamic_key, flow_run_run_count = excluded.flow_run_run_count, empirical_policy = excluded.empirical_policy, task_inputs = excluded.task_inputs, tags = excluded.tags, labels = excluded.labels, state_id = excluded.state_id, name = excluded.name, state_type = excluded.state_type, state_name = excluded.state_name, state_timestamp = excluded.state_timestamp, run_count = excluded.run_count, expected_start_time = excluded.expected_start_time, start_time = excluded.start_time, total_run_time = excluded.total_run_time, updated = excluded.updated WHERE task_run.state_timestamp < excluded.state_timestamp;

INSERT INTO task_run (flow_run_id, task_key, dynamic_key, flow_run_run_count, empirical_policy, task_inputs, tags, labels, state_id, name, state_type, state_name, state_timestamp, run_count, expected_start_time, start_time, end_time, total_run_time, id, created, updated) VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::INTEGER, $5, $6, $7::JSONB, $8::JSONB, $9::UUID, $10::VARCHAR, $11::state_type, $12::VARCHAR, $13::TIMESTAMP WITH TIME ZONE, $14::INTEGER, $15::TIMESTAMP WITH TIME ZONE, $16::TIMESTAMP WITH TIME ZONE, $17::TIMESTAMP WITH TIME ZONE, $18::INTERVAL, $19::UUID, $20::TIMESTAMP WITH TIME ZONE, $21::TIMESTAMP WITH TIME ZONE) ON CONFLICT (flow_run_id, task_key, dynamic_key) DO UPDATE SET flow_run_id = excluded.flow_run_id, task_key = excluded.task_key, dynamic_key = excluded.dynamic_key, flow_run_run_count = excluded.flow_run_run_count, empirical_policy = excluded.empirical_policy, task_inputs = excluded.task_inputs, tags = excluded.tags, labels = excluded.labels, state_id = excluded.state_id, name = excluded.name, state_type = excluded.state_type, state_name = excluded.state_name, state_timestamp = excluded.state_timestamp, run_count = excluded.run_count, expected_start_time = excluded.expected_start_time, start_time = excluded.start_time, end_time = excluded.end_time, total_run_time = excluded.total_run_time, updated = excluded.updated WHERE task_run.state_timestamp < excluded.state_timestamp;

SELECT flow_run.id 
FROM flow_run 
WHERE (flow_run.state_type = $1::state_type OR flow_run.state_type = $2::state_type OR flow_run.state_type = $3::state_type OR flow_run.state_type = $4::state_type OR flow_run.state_type = $5::state_type) AND flow_run.parent_task_run_id IS NOT NULL AND flow_run.id > $6::UUID ORDER BY flow_run.id 
 LIMIT $7::INTEGER;

SELECT flow_run.id 
FROM flow_run 
WHERE flow_run.state_type = $1::state_type AND flow_run.end_time IS NOT NULL AND flow_run.end_time >= $2::TIMESTAMP WITH TIME ZONE AND flow_run.id > $3::UUID ORDER BY flow_run.id 
 LIMIT $4::INTEGER;

SELECT flow_run.id, flow_run.state_id, flow_run.state_timestamp 
FROM flow_run 
WHERE flow_run.state_type = $1::state_type AND flow_run.state_id IS NOT NULL AND flow_run.state_timestamp IS NOT NULL ORDER BY flow_run.state_timestamp, flow_run.id 
 LIMIT $2::INTEGER;

SELECT flow_run.flow_id, flow_run.deployment_id, flow_run.work_queue_name, flow_run.flow_version, flow_run.deployment_version, flow_run.parameters, flow_run.idempotency_key, flow_run.context, flow_run.empirical_policy, flow_run.tags, flow_run.labels, flow_run.created_by, flow_run.infrastructure_pid, flow_run.job_variables, flow_run.infrastructure_document_id, flow_run.parent_task_run_id, flow_run.auto_scheduled, flow_run.state_id, flow_run.work_queue_id, flow_run.name, flow_run.state_type, flow_run.state_name, flow_run.state_timestamp, flow_run.run_count, flow_run.expected_start_time, flow_run.next_scheduled_start_time, flow_run.start_time, flow_run.end_time, flow_run.total_run_time, flow_run.id, flow_run.created, flow_run.updated 
FROM flow_run 
WHERE flow_run.state_type IN ($3::state_type, $4::state_type) ORDER BY coalesce(flow_run.start_time, flow_run.expected_start_time) DESC 
 LIMIT $1::INTEGER OFFSET $2::INTEGER;

SELECT log.name, log.level, log.flow_run_id, log.task_run_id, log.message, log.timestamp, log.id, log.created, log.updated 
FROM log 
WHERE log.flow_run_id IN ($3::UUID) ORDER BY log.timestamp ASC 
 LIMIT $1::INTEGER OFFSET $2::INTEGER;

SELECT count(*) AS count_1 
FROM events 
WHERE events.occurred >= $1::TIMESTAMP WITH TIME ZONE AND events.occurred <= $2::TIMESTAMP WITH TIME ZONE;

SELECT events.occurred, events.event, events.resource_id, events.resource, events.related_resource_ids, events.related, events.payload, events.received, events.recorded, events.follows, events.id, events.created, events.updated 
FROM events 
WHERE events.occurred >= $1::TIMESTAMP WITH TIME ZONE AND events.occurred <= $2::TIMESTAMP WITH TIME ZONE ORDER BY events.occurred DESC 
 LIMIT $3::INTEGER OFFSET $4::INTEGER;

SELECT task_run.flow_run_id, task_run.task_key, task_run.dynamic_key, task_run.cache_key, task_run.cache_expiration, task_run.task_version, task_run.flow_run_run_count, task_run.empirical_policy, task_run.task_inputs, task_run.tags, task_run.labels, task_run.state_id, task_run.name, task_run.state_type, task_run.state_name, task_run.state_timestamp, task_run.run_count, task_run.expected_start_time, task_run.next_scheduled_start_time, task_run.start_time, task_run.end_time, task_run.total_run_time, task_run.id, task_run.created, task_run.updated 
FROM task_run 
WHERE task_run.flow_run_id IN ($3::UUID) ORDER BY task_run.expected_start_time DESC 
 LIMIT $1::INTEGER OFFSET $2::INTEGER;

SELECT task_run_state.id, task_run_state.task_run_id, task_run_state.type, task_run_state.timestamp, task_run_state.name, task_run_state.message, task_run_state.state_details, task_run_state.data, task_run_state.result_artifact_id, task_run_state.created, task_run_state.updated 
FROM task_run_state 
WHERE task_run_state.id IN ($1::UUID, $2::UUID, $3::UUID, $4::UUID, $5::UUID, $6::UUID, $7::UUID, $8::UUID, $9::UUID, $10::UUID);

