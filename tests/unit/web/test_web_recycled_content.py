"""The passport page states the basis of the recycled-content figure where it shows it, and says
"unknown" where no supplier summary has arrived, never 0 % (issue 18, "one definition per
figure")."""

from __future__ import annotations

from batpass.web._passport_page import format_value


def test_the_art8_figure_is_shown_with_its_basis() -> None:
    row = format_value(
        "recycled_content",
        {
            "cobalt": {"pre": 0.0125, "post": 0.1, "basis": "art8_model_batch_plant", "unknown_mass_share": 0.0},
            "lithium": {"pre": None, "post": None, "basis": "art8_model_batch_plant", "unknown_mass_share": 1.0},
            "nickel": {"pre": 0.0, "post": 0.05, "basis": "art8_model_batch_plant", "unknown_mass_share": 0.25},
        },
    )
    art8 = "Art. 8 basis: per battery model and batch per manufacturing plant"
    assert row.items == (
        f"cobalt: pre-consumer 1.2 %, post-consumer 10.0 % ({art8})",
        f"lithium: unknown ({art8})",
        f"nickel: pre-consumer 0.0 %, post-consumer 5.0 %, unknown 25.0 % ({art8})",
    )


def test_a_per_battery_figure_is_labelled_as_such() -> None:
    row = format_value("recycled_content", {"cobalt": {"pre": 0.05, "post": 0.12, "basis": "battery_mass_balance"}})
    assert row.items == (
        "cobalt: pre-consumer 5.0 %, post-consumer 12.0 % (this battery alone, by mass balance (not the Art. 8 basis))",
    )
