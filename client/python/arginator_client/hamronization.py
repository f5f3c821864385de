"""Reports in the PHA4GE hAMRonization 1.x format, byte for byte as the C++ client writes them
(client/hamronization.cc): the specification's fields in its order, then Arginator's trailing
nearest_reference_cosine column; rows for beta-lactamase calls, and uncertain calls on request."""

SOFTWARE_VERSION = "0.1.0"  # the project's version (CMakeLists.txt), checked by a test

COLUMNS = [
    "input_file_name", "gene_symbol", "gene_name", "reference_database_name",
    "reference_database_version", "reference_accession", "analysis_software_name",
    "analysis_software_version", "genetic_variation_type", "antimicrobial_agent",
    "coverage_percentage", "coverage_depth", "coverage_ratio", "drug_class", "input_gene_length",
    "input_gene_start", "input_gene_stop", "input_protein_length", "input_protein_start",
    "input_protein_stop", "input_sequence_id", "nucleotide_mutation",
    "nucleotide_mutation_interpretation", "predicted_phenotype",
    "predicted_phenotype_confidence_level", "amino_acid_mutation",
    "amino_acid_mutation_interpretation", "reference_gene_length", "reference_gene_start",
    "reference_gene_stop", "reference_protein_length", "reference_protein_start",
    "reference_protein_stop", "resistance_mechanism", "strand_orientation", "sequence_identity",
    "nearest_reference_cosine",
]
MANDATORY = 9


def beta_lactamase_name(label):
    """gene_name of a beta-lactamase call: "class A beta-lactamase" for class_A."""
    if label == "betalactamase":
        return "beta-lactamase"
    if len(label) == 7 and label.startswith("class_"):
        return "class " + label[6:] + " beta-lactamase"
    return "beta-lactamase (" + label + ")"


_SEPARATORS = "|,;= \t"
_TRIMMED = "[](){}\"'"


def gene_symbol_of(reference_id):
    """The gene symbol a reference id carries ("blaTEM-1"), or "" (client/hamronization.h's rule)."""
    token = []
    for ch in reference_id + "|":
        if ch not in _SEPARATORS:
            token.append(ch)
            continue
        t = "".join(token)
        token = []
        b, e = 0, len(t)
        while b < e and t[b] in _TRIMMED:
            b += 1
        while e > b and t[e - 1] in _TRIMMED:
            e -= 1
        t = t[b:e]
        if len(t) > 3 and t.startswith("bla") and ("A" <= t[3] <= "Z" or "0" <= t[3] <= "9"):
            return t
    return ""


def database_version(version, data_sha256):
    """reference_database_version: the model version and its training data's digest."""
    if not data_sha256:
        return str(version)
    return "%d (data sha256:%s)" % (version, data_sha256[:16])


def row(p, model_name, db_version, model_version, input_file, include_uncertain):
    """One prediction's values, one per column ("" = empty), or None when it is not reported."""
    uncertain = p.call == "uncertain"
    if (not include_uncertain) if uncertain else p.call == "non_betalactamase":
        return None
    symbol = ""
    if not uncertain and p.evidence and not p.evidence_disagrees:
        symbol = gene_symbol_of(p.evidence[0].id)
    values = dict.fromkeys(COLUMNS, "")
    values.update({
        "input_file_name": input_file,
        "gene_symbol": symbol or "bla",
        "gene_name": ("uncertain call (top label %s)" % p.label) if uncertain
        else beta_lactamase_name(p.call),
        "reference_database_name": model_name,
        "reference_database_version": db_version,
        # The nearest known protein when evidence was asked for; else the model version itself.
        "reference_accession": p.evidence[0].id if p.evidence
        else "%s:%d" % (model_name, model_version),
        "nearest_reference_cosine": ("%.6g" % p.evidence[0].cosine) if p.evidence else "",
        "analysis_software_name": "arginator",
        "analysis_software_version": SOFTWARE_VERSION,
        "genetic_variation_type": "gene_presence_detected",
        "drug_class": "beta-lactam",
        "input_sequence_id": p.id,
        "predicted_phenotype": "" if uncertain else "beta-lactam resistance",
        "predicted_phenotype_confidence_level": p.confidence,
        "resistance_mechanism": "antibiotic inactivation",
    })
    return [values[c] for c in COLUMNS]


def tsv_field(value):
    """Tabs and line breaks would split the row: they become spaces."""
    return value.replace("\t", " ").replace("\n", " ").replace("\r", " ")
