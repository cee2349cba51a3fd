"""Cold start on the demo learning platform: the paper's ladder, its Tables 1-2, member coverage.

"Learning to be Relevant" (CIKM'19) climbed a ladder of cold-start models,
judged by coverage and online CTR; here each rung is judged by coverage and
held-out click AUC on the generated platform's impressions (each distinct
member-course pair shown, 1 if clicked):

* m001 recency: newest courses first, for everyone (the anchor);
* m002 taxonomy tags + profile skills;
* m003 taxonomy tags + profile and {title, industry} cohort skills;
* m004 tagger-widened tags + profile and cohort skills.

The skill tagger (TF-IDF + one logistic regression per skill) is judged as the
paper's Tables 1-2: skill coverage, and precision and recall against the
taxonomy on courses held out from its training.

Run: ``python benchmarks/cold_start.py [--quick]``; one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(__file__))
from _common import emit, log

from lumos.data.demo import learning
from lumos.models import SkillAffinity, SkillTagger, tagging_report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smaller platform")
    args = parser.parse_args()
    size = (800, 200, 28) if args.quick else (3000, 600, 60)
    book = learning(*size[:2], days=size[2], random_state=0)
    log(f"platform: {size[0]:,} members, {size[1]:,} courses, {len(book.interactions):,} events")
    i = book.interactions
    shown = i[i["type"] == "impression"].drop_duplicates(["member_id", "course_id"])
    clicked = i[i["type"] == "click"][["member_id", "course_id"]].drop_duplicates()
    y = shown.merge(clicked.assign(y=1), how="left", on=["member_id", "course_id"])["y"]
    y = y.fillna(0).to_numpy()

    # the tagger, judged on a quarter of the tagged courses held out
    tagged = book.course_skills["course_id"].unique()
    held = set(np.random.default_rng(0).choice(tagged, len(tagged) // 4, replace=False))
    truth = book.course_skills[book.course_skills["course_id"].isin(held)]
    train = book.course_skills[~book.course_skills["course_id"].isin(held)]
    predicted = SkillTagger().fit(book.courses, train).predict(book.courses)
    held_report = tagging_report(truth, predicted[predicted["course_id"].isin(held)], book.skills)
    tax = tagging_report(book.course_skills, book.course_skills, book.skills, courses=book.courses)
    wide = pd.concat([book.course_skills, predicted[["course_id", "skill_id"]]])
    wide_report = tagging_report(
        book.course_skills, wide.drop_duplicates(), book.skills, courses=book.courses
    )
    log(f"tagger on held-out courses: {held_report}")

    tagger = SkillTagger().fit(book.courses, book.course_skills)
    rungs = {
        "m002_taxonomy_profile": SkillAffinity(cohort_weight=0.0),
        "m003_taxonomy_title_industry": SkillAffinity(),
        "m004_tagger_title_industry": SkillAffinity(tagger=tagger),
    }
    age = shown["course_id"].map(book.courses.set_index("course_id")["release_date"])
    recency = roc_auc_score(y, age.astype("int64").to_numpy())
    ladder = {}
    for name, model in rungs.items():
        model.fit(book.tables)
        score = model.score(shown["member_id"].to_numpy(), shown["course_id"].to_numpy())
        ladder[name] = {
            "click_auc": roc_auc_score(y, score),
            "pairs_covered": float((score > 0).mean()),
            **model.coverage(),
        }
        log(f"{name}: {ladder[name]}")
    results = [
        {
            "name": f"cold_start_{name}_click_auc",
            "unit": "AUC",
            "lumos": figures["click_auc"],
            "anchor": recency,
            "anchor_name": "m001: recency (newest courses first, non-personalized)",
            "details": {k: v for k, v in figures.items() if k != "click_auc"},
        }
        for name, figures in ladder.items()
    ]
    results.append(
        {
            "name": "skill_tagger_precision_recall",
            "unit": "precision",
            "lumos": held_report["precision"],
            "anchor": None,
            "anchor_name": "the taxonomy itself (precision 1 by definition; its coverage below)",
            "details": {
                "recall": held_report["recall"],
                "held_out_courses": len(held),
                "skill_coverage_taxonomy": tax["skill_coverage"],
                "course_coverage_taxonomy": tax["course_coverage"],
                "skill_coverage_widened": wide_report["skill_coverage"],
                "course_coverage_widened": wide_report["course_coverage"],
            },
        }
    )
    results.append(
        {
            "name": "member_coverage",
            "unit": "share of members",
            "lumos": ladder["m003_taxonomy_title_industry"]["member_coverage"],
            "anchor": ladder["m002_taxonomy_profile"]["member_coverage"],
            "anchor_name": "profile skills alone (ms01)",
            "details": {"lumos": "profile + {title, industry} cohort skills (ms02)"},
        }
    )
    emit("cold_start", args.quick, results)


if __name__ == "__main__":
    main()
