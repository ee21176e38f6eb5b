-- Who sent each result (issue #31). Python counterpart: qsmon.provenance (the rules), qsmon.tokens (the tokens).
-- A token is issued to a named sender: the lab it speaks for and the source it writes (NULL: any), the regions
-- (GB/T 2260 codes; a province or city covers the codes below it, 000000 everything) and categories it may write
-- (NULL: any; tokens made before this migration keep writing anywhere until reissued).
ALTER TABLE api_tokens
    ADD COLUMN lab        text,
    ADD COLUMN source     text,
    ADD COLUMN regions    text[] CHECK (regions IS NULL OR cardinality(regions) > 0),
    ADD COLUMN categories text[] CHECK (categories IS NULL OR cardinality(categories) > 0);

-- The sender of every revision (the record's qsmon-sender header: token:12, import:<user>:<files>, simulator:…);
-- NULL for results stored before senders were recorded, or written to Kafka without the header.
ALTER TABLE inspection_results ADD COLUMN sender text;
-- The current revision's sender, and the sample's creator (its first sender's principal: lab:<lab> for a lab's
-- token, so a replacement token of the same lab revises what the old one sent; else the sender): a lab's token
-- revises only samples its lab created.
ALTER TABLE sample_current ADD COLUMN sender text, ADD COLUMN created_by text;
