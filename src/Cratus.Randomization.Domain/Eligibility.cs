namespace Cratus.Randomization.Domain;

public enum Sex
{
    Female,
    Male,
}

/// <summary>How the participant's age was given: a date of birth, or the age at consent directly.</summary>
public abstract record AgeEvidence
{
    public sealed record DateOfBirth(DateOnly Date) : AgeEvidence;
    public sealed record AgeAtConsent(int Years) : AgeEvidence;
}

/// <summary>
/// Screening data as the site reports it. Structural completeness (every field present) is checked by
/// <see cref="EligibilityCheck.FindMissingData"/>; clinical eligibility by <see cref="EligibilityCheck.Evaluate"/>.
/// </summary>
public sealed record EligibilityData(
    DateOnly? ConsentDate,
    AgeEvidence? Age,
    Sex? Sex,
    int? ClinicalFrailtyScale,
    int? MmseScore,
    IReadOnlyDictionary<string, bool> ExclusionAttestations);

/// <summary>What is kept of an eligible participant's screening: enough to audit the decision, no date of birth.</summary>
public sealed record EligibilitySnapshot(
    DateOnly ConsentDate,
    int AgeAtConsent,
    Sex Sex,
    int ClinicalFrailtyScale,
    int MmseScore);

/// <summary>One failed eligibility criterion: its code, the request field it was judged on, and what is wrong.</summary>
public sealed record EligibilityFailure(string Criterion, string Field, string Description)
{
    public override string ToString() => Description;
}

/// <summary>The one place the trial's eligibility rules are applied.</summary>
public static class EligibilityCheck
{
    /// <summary>Fields that are absent or malformed; each names the field by its path in the request and what is wrong.</summary>
    public static IReadOnlyList<FieldViolation> FindMissingData(EligibilityRules rules, EligibilityData data)
    {
        var missing = new List<FieldViolation>();
        void Add(string field, string description) => missing.Add(new FieldViolation("eligibility." + field, description));
        if (data.ConsentDate is null) Add("consent_date", "consent_date is required (a real date)");
        if (data.Age is null) Add("date_of_birth", "date_of_birth or age_at_consent_years is required (a real date of birth)");
        if (data.Sex is null) Add("sex", "sex is required (it is a stratification factor)");
        if (data.ClinicalFrailtyScale is null) Add("clinical_frailty_scale", "clinical_frailty_scale is required");
        else if (data.ClinicalFrailtyScale is < 1 or > 9) Add("clinical_frailty_scale", "clinical_frailty_scale must be 1 to 9");
        if (data.MmseScore is null) Add("mmse_score", "mmse_score is required");
        else if (data.MmseScore is < 0 or > 30) Add("mmse_score", "mmse_score must be 0 to 30");
        if (data.Age is AgeEvidence.AgeAtConsent { Years: < 0 or > 130 }) Add("age_at_consent_years", "age_at_consent_years must be 0 to 130");
        foreach (var code in data.ExclusionAttestations.Keys)
        {
            if (rules.ExclusionAttestations.All(c => c.Code != code))
                Add("exclusion_attestations", $"exclusion attestation '{Printable(code)}' is not a criterion of this trial");
        }
        foreach (var criterion in rules.ExclusionAttestations)
        {
            if (!data.ExclusionAttestations.ContainsKey(criterion.Code)) Add("exclusion_attestations", $"exclusion attestation '{criterion.Code}' must be answered");
        }
        return missing;
    }

    // A code the caller sent is echoed only as far as it is short, printable text.
    private static string Printable(string code) =>
        code.Length <= 64 && code.All(c => !char.IsControl(c)) ? code : string.Concat(code.Where(c => !char.IsControl(c)).Take(64)) + "...";

    /// <summary>
    /// Every criterion the participant fails, in plain words and naming the request field it was judged on; empty
    /// when eligible. Requires complete data (see <see cref="FindMissingData"/>).
    /// </summary>
    public static IReadOnlyList<EligibilityFailure> Evaluate(EligibilityRules rules, EligibilityData data, DateOnly today)
    {
        var consent = data.ConsentDate ?? throw new ArgumentException("consent date missing", nameof(data));
        var failures = new List<EligibilityFailure>();
        if (consent > today) failures.Add(new("informed-consent", "eligibility.consent_date", $"informed consent date {consent:yyyy-MM-dd} is in the future"));

        var age = AgeAtConsent(data, consent);
        var ageField = data.Age is AgeEvidence.AgeAtConsent ? "eligibility.age_at_consent_years" : "eligibility.date_of_birth";
        if (age is null) failures.Add(new("age", ageField, "date of birth is after the consent date"));
        else if (age < rules.MinimumAge) failures.Add(new("age", ageField, $"age at consent {age} is below the minimum of {rules.MinimumAge}"));
        else if (age > rules.MaximumAge) failures.Add(new("age", ageField, $"age at consent {age} is above the maximum of {rules.MaximumAge}"));

        var cfs = data.ClinicalFrailtyScale!.Value;
        if (cfs < rules.MinimumFrailtyScore || cfs > rules.MaximumFrailtyScore)
            failures.Add(new("clinical-frailty-scale", "eligibility.clinical_frailty_scale",
                $"Clinical Frailty Scale score {cfs} is outside {rules.MinimumFrailtyScore} to {rules.MaximumFrailtyScore}"));

        var mmse = data.MmseScore!.Value;
        if (mmse <= rules.MmseExclusionAtOrBelow)
            failures.Add(new("mmse", "eligibility.mmse_score", $"MMSE score {mmse} is at or below the exclusion threshold of {rules.MmseExclusionAtOrBelow}"));

        foreach (var criterion in rules.ExclusionAttestations)
        {
            if (data.ExclusionAttestations.TryGetValue(criterion.Code, out var applies) && applies)
                failures.Add(new(criterion.Code, "eligibility.exclusion_attestations", $"exclusion criterion applies: {criterion.Description} ({criterion.Code})"));
        }
        return failures;
    }

    /// <summary>The refusal of an ineligible participant: one field violation and one precondition violation per failed criterion.</summary>
    public static Refusal Refusal(string screeningId, IReadOnlyList<EligibilityFailure> failures) =>
        new(RefusalReason.ParticipantIneligible,
            $"Participant {screeningId} is not eligible: {string.Join("; ", failures.Select(f => f.Description))}.",
            [.. failures.Select(f => new FieldViolation(f.Field, f.Description))],
            [.. failures.Select(f => new PreconditionViolation("ELIGIBILITY", f.Criterion, f.Description))]);

    /// <summary>The snapshot kept for an eligible participant. Call only after <see cref="Evaluate"/> found no failure.</summary>
    public static EligibilitySnapshot Snapshot(EligibilityData data)
    {
        var consent = data.ConsentDate!.Value;
        return new EligibilitySnapshot(consent, AgeAtConsent(data, consent)!.Value, data.Sex!.Value,
            data.ClinicalFrailtyScale!.Value, data.MmseScore!.Value);
    }

    private static int? AgeAtConsent(EligibilityData data, DateOnly consent) => data.Age switch
    {
        AgeEvidence.AgeAtConsent given => given.Years,
        AgeEvidence.DateOfBirth { Date: var birth } when birth > consent => null,
        AgeEvidence.DateOfBirth { Date: var birth } =>
            consent.Year - birth.Year - (consent < birth.AddYears(consent.Year - birth.Year) ? 1 : 0),
        _ => throw new ArgumentException("age missing", nameof(data)),
    };
}
