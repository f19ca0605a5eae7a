"""A PACT v3 product footprint the footprint tests share (the PACT specification's example
shape: one product, a declared unit of one litre, 77 kg CO2e)."""

from __future__ import annotations

from typing import Any

FOOTPRINT: dict[str, Any] = {
    "id": "b1f8c0d2-7c4e-4e67-9a9c-2e4c12345678",
    "specVersion": "3.0.0",
    "created": "2023-01-15T10:15:30Z",
    "status": "Active",
    "companyName": "Acme Corp",
    "companyIds": ["urn:uuid:abc12345-6789-4def-0123-456789abcdef"],
    "productDescription": "Renewable Diesel",
    "productIds": ["urn:gtin:1234567890123"],
    "productNameCompany": "Renewable Diesel",
    "pcf": {
        "declaredUnitOfMeasurement": "liter",
        "declaredUnitAmount": "1",
        "productMassPerDeclaredUnit": "25",
        "referencePeriodStart": "2024-02-28T00:00:00+00:00",
        "referencePeriodEnd": "2024-09-30T00:00:00+00:00",
        "pcfExcludingBiogenicUptake": "77.0",
        "pcfIncludingBiogenicUptake": "77.0",
        "fossilGhgEmissions": "77.0",
        "fossilCarbonContent": "11.72",
        "ipccCharacterizationFactors": ["AR6"],
        "crossSectoralStandards": ["ISO14067"],
        "exemptedEmissionsPercent": "0",
    },
}
