"""The national monitoring KPIs per plant: online rate, fault rate, generation capability,
O&M timeliness and O&M coverage (definitions in the README, formulas in kpi/compute.py)."""
