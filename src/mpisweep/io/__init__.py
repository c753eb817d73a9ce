"""Files in and out: MDF system matrices (:mod:`.mdf`), Zarr stores (:mod:`.stores`), the one
atomic writer every output goes through (:mod:`.atomic`) and provenance attributes (:mod:`.provenance`)."""
