"""Real records for the harvesting tests: a slice of the bundled Tate sample (CRM-native, mapped by
the sample's own mapping) and the Europeana EDM records of ../shared/data (EDM-native)."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from kg.ingest import load
from kg.settings import Settings
from kg.store import Store, utc_now

BASE = "http://localhost:8000/"
SAMPLE = Path(__file__).resolve().parents[1] / "kg" / "sample"
#: EDM records that pass the SHACL gate and Europeana's own rules, harvested back statement for statement
#: (every Europeana record of ../shared/data that passes the SHACL gate and holds a ProvidedCHO)
EDM_RECORDS = ["metis-validation/Item_35834473_test.xml",
               "metis-misc/europeana_oai_getRecord_rijksmuseum_90402_BK_1978_399.xml",
               "metis-misc/europeana_record_edm_external_sorted.xml", "metis-misc/europeana_record_edm_internal.xml",
               "metis-misc/europeana_record_rdf_conversion.xml",
               "metis-misc/europeana_record_with_normalized_date_timespan.xml",
               "metis-misc/rdf_with_iiif_sample.xml", "metis-misc/rdf_with_oembed_sample_II.xml",
               "metis-misc/sample_completeness.rdf"]
#: an EDM record without a ProvidedCHO (a contextual entity): in the store, not harvestable
ENTITY_RECORD = "metis-misc/entity-agent.xml"


def tate_slice(folder: Path, artworks: int) -> Path:
    """The sample mapping over its first ``artworks`` artworks and just the artists they name."""
    sample = folder / "sample"
    (sample / "subjects").mkdir(parents=True)
    shutil.copytree(SAMPLE.parent / "mappings", folder / "mappings")
    for name in ("level0.json", "level1.json", "level2.json"):
        shutil.copy(SAMPLE / "subjects" / name, sample / "subjects" / name)
    lines = (SAMPLE / "artworks_sample_1505.jsonl").read_text(encoding="utf-8").splitlines()[:artworks]
    (sample / "artworks_sample_1505.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    ids = {str(c["id"]) for line in lines for c in json.loads(line).get("contributors", [])}
    rows = (SAMPLE / "artist_data.csv").read_text(encoding="utf-8-sig").splitlines()
    kept = [rows[0]] + [r for r in rows[1:] if r.split(",", 1)[0] in ids]
    (sample / "artist_data.csv").write_text("\n".join(kept) + "\n", encoding="utf-8")
    shutil.copy(SAMPLE / "tate.mapping.toml", sample / "tate.mapping.toml")
    return sample / "tate.mapping.toml"


def harvest_store(folder: Path, data_dir: Path, *, artworks: int = 30, edm: bool = True) -> Store:
    store = Store.open(folder / "store", BASE)
    settings = Settings.from_env({}, base_uri=BASE)
    report = load(store, [str(tate_slice(folder, artworks))], settings)
    assert report.loaded >= artworks and not report.rejected, report.summary()
    if edm:
        paths = [str(data_dir / "europeana-edm" / "records" / name) for name in EDM_RECORDS + [ENTITY_RECORD]]
        report = load(store, paths, settings, dataset="europeana")
        assert report.loaded == len(paths) and not report.rejected, [str(r) for r in report.rejected]
    # a harvest lists what was written before the second of its first request: let that second pass
    last = max(s.modified for s in store.changes())
    deadline = time.monotonic() + 5
    while utc_now() <= last:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return store
