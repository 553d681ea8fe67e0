"""Applicant fairs (Bewerberbörsen) as a service: plan, keep, and print the timetables."""
