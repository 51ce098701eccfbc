"""Each card's current grade is marked (Grade.is_current), so that lists of many cards join it rather than look for
every card's newest grade. Existing grades: the newest of each card (by created_at, then id) becomes current, as
grading.selectors.grade_current read it before. The unique partial index (one current grade per card) is also the
index those joins use; grade_current_cover_idx holds what they read (PostgreSQL only: covering indexes)."""

from django.db import migrations, models

BATCH = 2000


def mark_newest_current(apps, schema_editor):
    # One ordered read and batched updates: a correlated "newest grade of this card" subquery per row took minutes
    # on 85 000 grades that PostgreSQL had not analysed yet (a sequential scan per row).
    Grade = apps.get_model("grading", "Grade")
    newest, previous_unit = [], None
    for unit_id, grade_id in (Grade.objects.order_by("unit_id", "-created_at", "-id")
                              .values_list("unit_id", "id").iterator(chunk_size=BATCH)):
        if unit_id != previous_unit:
            newest.append(grade_id)
            previous_unit = unit_id
    for start in range(0, len(newest), BATCH):
        Grade.objects.filter(pk__in=newest[start:start + BATCH]).update(is_current=True)


class Migration(migrations.Migration):

    dependencies = [
        ("grading", "0004_text_validators"),
    ]

    operations = [
        migrations.AddField(
            model_name="grade",
            name="is_current",
            field=models.BooleanField(default=False, editable=False),
        ),
        migrations.RunPython(mark_newest_current, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="grade",
            constraint=models.UniqueConstraint(condition=models.Q(("is_current", True)), fields=("unit",),
                                               name="grade_one_current_per_unit"),
        ),
        migrations.AddIndex(
            model_name="grade",
            index=models.Index(condition=models.Q(("is_current", True)), fields=["unit"],
                               include=("functional", "cosmetic", "run"), name="grade_current_cover_idx"),
        ),
    ]
