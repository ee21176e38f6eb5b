-- Where a sample was made, beside where it was taken (issue #16): importers read it from the nominal
-- manufacturer's address or name (qsmon.addresses); the event carries it as manufacturer_region_code.
ALTER TABLE inspection_results ADD COLUMN manufacturer_region_code text;
ALTER TABLE sample_current ADD COLUMN manufacturer_region_code text;
