"""Inter-annotator agreement, consensus and annotator quality (installs as ``brun_label.agreement``).

Pure core: NumPy and pandas only, no network, no files, no SDKs. Import the modules by their
full names, e.g. ``from brun_label.agreement.alpha import krippendorff_alpha``.

Coefficients (vectorised functions with keyword-only options; malformed input raises
``ValueError`` up front, a coefficient that is undefined for the data is ``NaN``):

==========================  =======================================================================
``reliability``             annotators × units data → units × values counts (one ``bincount``),
                            and the grouping of units by count pattern
``distances``               difference functions: nominal, ordinal, interval, ratio, MASI
``alpha``                   Krippendorff's α at the four levels, with missing values
``bootstrap``               percentile bootstrap CI for α over units, all resamples in one pass
``kappa``                   Cohen's κ (unweighted, linear, quadratic) and the pairwise matrix
``fleiss``                  Fleiss' κ on a units × categories table (uneven counts: Gwet 2014)
``gwet``                    Gwet's AC1 / weighted AC2, robust to the prevalence paradox
``percent``                 percent agreement (mean share of agreeing pairs per unit)
``flags``                   multi-label flags: α per flag and α over sets with MASI
==========================  =======================================================================

Consensus and quality (the annotation table in, plain dicts and DataFrames out):

==========================  =======================================================================
``questions``               the long annotation table → one annotators × units matrix per question
                            (humans and ``judge:`` raters apart; kind and level resolved)
``consensus``               per-unit consensus with its support: majority vote, or Dawid–Skene
                            (nominal, scales, flags) and Bradley–Terry with ties (preferences)
``dawid_skene``             ``DawidSkene().fit_predict(data)``: EM with annotator confusion matrices
``bradley_terry``           ``BradleyTerryTies().fit(options, choices)``: Davidson's tie model
``annotators``              leave-one-out agreement, bias and α-without per annotator; the judge
                            against the annotators' consensus (it never votes)
``adjudication``            the low-agreement units worth a second look
``position_bias``           per rater (humans and judges), the share of preference votes per shown slot
                            and the scale's mean by slot, exact tests, Holm across raters
``calibration``             how often the judge matches a clear human consensus given its own
                            confidence (scikit-learn, cross-validated Brier score and reliability curve)
``metrics``                 every coefficient of one question, with reasons when undefined
``summary``                 ``summarize(table)``: the JSON object ``brun-label agreement`` prints
``report``, ``svg``         the self-contained HTML report with inline SVG charts
==========================  =======================================================================

Conventions. *Reliability data* is annotators × units (like the ``krippendorff`` package) with
``NaN`` (``None`` in object arrays) for a missing rating. A *unit* is one thing rated: in the
annotation table, an (``item_id``, ``candidate_id``) pair for one question. Units rated by
fewer than two annotators carry no information about agreement and are ignored by every
coefficient (as α's definition says).

Edge cases, the same for every coefficient:

* **perfect agreement**: 1.0 (α, κ, AC1, percent agreement), provided at least two distinct
  values occur (or, for AC1, at least two categories are known);
* **a single value everywhere**: α, κ and Fleiss' κ are undefined (``NaN``: chance agreement
  is total, so agreement cannot be told from chance); AC1 is 1.0 when the category set has at
  least two categories (pass them); percent agreement is 1.0;
* **one annotator**, **no unit rated twice**, **empty input**: nothing is pairable, every
  coefficient is ``NaN``;
* **uneven numbers of annotators per unit**: handled by every coefficient (α and AC1 by their
  definitions, Fleiss' κ by Gwet's generalisation, Cohen's κ on the units both annotators rated).

The prevalence paradox: when nearly every rating is one value (most good drafts sit in the tone
zone), α and κ can be near 0 or negative although annotators almost always agree, because the
agreement expected by chance is then nearly total too. Report AC1 and percent agreement next to
α (the summary does) and read α's bootstrap interval: a wide interval says the data cannot tell.
"""
