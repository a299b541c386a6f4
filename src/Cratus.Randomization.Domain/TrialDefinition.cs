using System.Text.Json;
using System.Text.Json.Serialization;

namespace Cratus.Randomization.Domain;

/// <summary>
/// Everything the service knows about a trial's design: sites, eligibility rules, the Phase I cohorts and the
/// randomized phase's arms, ratio, target and strata. Loaded from a JSON document at start-up (the CRATUS one is
/// shipped as the default). Invariant: an instance that <see cref="Validate"/> accepts is internally consistent
/// (every block size is a whole number of ratio cycles, codes are unique, ranges are ordered).
/// </summary>
public sealed record TrialDefinition
{
    public required string TrialId { get; init; }
    public required string Title { get; init; }
    public string RegistryId { get; init; } = "";

    /// <summary>IANA time zone the sites' calendar dates (consent, birth) are read in.</summary>
    public string TimeZone { get; init; } = "UTC";

    public required IReadOnlyList<SiteDefinition> Sites { get; init; }
    public required EligibilityRules Eligibility { get; init; }
    public DoseEscalationDefinition? DoseEscalation { get; init; }
    public required RandomizedPhaseDefinition RandomizedPhase { get; init; }

    /// <summary>How prepared doses are handled: the thaw-to-infusion window (4 hours by default) and what happens past it.</summary>
    public DoseHandlingDefinition DoseHandling { get; init; } = new();

    private static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web)
    {
        ReadCommentHandling = JsonCommentHandling.Skip,
        AllowTrailingCommas = true,
        Converters = { new JsonStringEnumConverter() },
        UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow,
    };

    /// <summary>Parses and validates a trial definition; throws <see cref="InvalidTrialDefinitionException"/>.</summary>
    public static TrialDefinition Parse(string json)
    {
        TrialDefinition? definition;
        try
        {
            definition = JsonSerializer.Deserialize<TrialDefinition>(json, JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidTrialDefinitionException([$"not a valid trial definition document: {ex.Message}"]);
        }
        if (definition is null)
        {
            throw new InvalidTrialDefinitionException(["the document is empty"]);
        }
        var problems = definition.Validate();
        if (problems.Count > 0)
        {
            throw new InvalidTrialDefinitionException(problems);
        }
        return definition;
    }

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(TrialId)) problems.Add("trialId is required");
        if (Sites.Count == 0) problems.Add("at least one site is required");
        foreach (var site in Sites)
        {
            if (!Identifiers.IsValidCode(site.Code)) problems.Add($"site code '{site.Code}' must be 1-16 letters, digits, '-' or '_'");
        }
        if (Sites.Select(s => s.Code).Distinct(StringComparer.OrdinalIgnoreCase).Count() != Sites.Count) problems.Add("site codes must be unique");
        try
        {
            TimeZoneInfo.FindSystemTimeZoneById(TimeZone);
        }
        catch (TimeZoneNotFoundException)
        {
            problems.Add($"time zone '{TimeZone}' is unknown");
        }
        problems.AddRange(Eligibility.Validate());
        problems.AddRange(RandomizedPhase.Validate());
        if (DoseEscalation is not null) problems.AddRange(DoseEscalation.Validate());
        problems.AddRange(DoseHandling.Validate());
        if (RandomizedPhase.RequiresDoseEscalationFirst && DoseEscalation is null)
            problems.Add("randomizedPhase.requiresDoseEscalationFirst needs a doseEscalation section");
        return problems;
    }

    public SiteDefinition? FindSite(string code) =>
        Sites.FirstOrDefault(s => string.Equals(s.Code, code, StringComparison.Ordinal));

    /// <summary>Today's date in the trial's time zone.</summary>
    public DateOnly Today(TimeProvider clock)
    {
        var zone = TimeZoneInfo.FindSystemTimeZoneById(TimeZone);
        return DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(clock.GetUtcNow(), zone).DateTime);
    }
}

public sealed record SiteDefinition(string Code, string Name);

/// <summary>Inclusion and exclusion rules checked at enrolment and at randomization.</summary>
public sealed record EligibilityRules
{
    public int MinimumAge { get; init; }
    public int MaximumAge { get; init; }
    public int MinimumFrailtyScore { get; init; }
    public int MaximumFrailtyScore { get; init; }

    /// <summary>An MMSE score at or below this excludes the participant (24 in CRATUS).</summary>
    public int MmseExclusionAtOrBelow { get; init; }

    /// <summary>Exclusions only the investigator can judge; every request must answer each one.</summary>
    public IReadOnlyList<ExclusionCriterion> ExclusionAttestations { get; init; } = [];

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (MinimumAge < 0 || MaximumAge < MinimumAge) problems.Add("eligibility ages must satisfy 0 <= minimumAge <= maximumAge");
        if (MinimumFrailtyScore < 1 || MaximumFrailtyScore > 9 || MaximumFrailtyScore < MinimumFrailtyScore)
            problems.Add("frailty scores must satisfy 1 <= minimumFrailtyScore <= maximumFrailtyScore <= 9");
        if (MmseExclusionAtOrBelow is < -1 or > 30) problems.Add("mmseExclusionAtOrBelow must be between -1 and 30");
        if (ExclusionAttestations.Select(e => e.Code).Distinct(StringComparer.Ordinal).Count() != ExclusionAttestations.Count)
            problems.Add("exclusion attestation codes must be unique");
        return problems;
    }
}

public sealed record ExclusionCriterion(string Code, string Description);

/// <summary>An arm of the randomized phase and what the pharmacy prepares for it.</summary>
public sealed record ArmDefinition
{
    /// <summary>The arm letter ("A"); never shown to a blinded user.</summary>
    public required string Code { get; init; }
    public required string Treatment { get; init; }

    /// <summary>Cells to prepare; zero for placebo.</summary>
    public long CellCount { get; init; }
    public bool Placebo { get; init; }

    /// <summary>Weight of the arm in the allocation ratio (1 in 1:1:1).</summary>
    public int Ratio { get; init; } = 1;
}

/// <summary>The stratification factors the schedule can use.</summary>
public enum StratificationFactor
{
    Site,
    Sex,
}

/// <summary>The randomized, double-blind phase: arms and ratio, target size, block sizes and strata.</summary>
public sealed record RandomizedPhaseDefinition
{
    public required IReadOnlyList<ArmDefinition> Arms { get; init; }
    public int TargetParticipants { get; init; }
    public IReadOnlyList<int> BlockSizes { get; init; } = [3, 6];
    public IReadOnlyList<StratificationFactor> StratificationFactors { get; init; } = [];

    /// <summary>When true, Randomize is refused until Phase I is complete and the DSMB has decided to proceed.</summary>
    public bool RequiresDoseEscalationFirst { get; init; }

    public int RatioCycle => Arms.Sum(a => a.Ratio);

    public ArmDefinition? FindArm(string code) => Arms.FirstOrDefault(a => a.Code == code);

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Arms.Count < 2) problems.Add("the randomized phase needs at least two arms");
        if (Arms.Any(a => a.Ratio < 1)) problems.Add("every arm's ratio must be at least 1");
        if (Arms.Any(a => !Identifiers.IsValidCode(a.Code))) problems.Add("arm codes must be 1-16 letters, digits, '-' or '_'");
        if (Arms.Select(a => a.Code).Distinct(StringComparer.Ordinal).Count() != Arms.Count) problems.Add("arm codes must be unique");
        if (Arms.Any(a => a.Placebo != (a.CellCount == 0))) problems.Add("an arm is placebo exactly when its cell count is zero");
        if (TargetParticipants < 1) problems.Add("targetParticipants must be at least 1");
        problems.AddRange(ValidateBlockSizes(BlockSizes));
        if (StratificationFactors.Distinct().Count() != StratificationFactors.Count) problems.Add("stratification factors must not repeat");
        return problems;
    }

    public IReadOnlyList<string> ValidateBlockSizes(IReadOnlyList<int> blockSizes)
    {
        var problems = new List<string>();
        if (blockSizes.Count == 0) problems.Add("at least one block size is required");
        var cycle = Arms.Count == 0 ? 1 : RatioCycle;
        foreach (var size in blockSizes)
        {
            if (size < cycle || size % cycle != 0 || size > 60)
                problems.Add($"block size {size} must be a multiple of the ratio cycle {cycle}, at most 60");
        }
        if (blockSizes.Distinct().Count() != blockSizes.Count) problems.Add("block sizes must not repeat");
        return problems;
    }
}

/// <summary>Phase I: open-label cohorts of increasing dose, each gated by a DSMB decision.</summary>
public sealed record DoseEscalationDefinition
{
    public required IReadOnlyList<CohortDefinition> Cohorts { get; init; }

    /// <summary>Days after infusion in which a treatment-emergent serious adverse event is counted (30).</summary>
    public int SafetyWindowDays { get; init; } = 30;

    /// <summary>Minimum days between a cohort's first infusion and the next ones; 0 turns staggering off.</summary>
    public int SentinelIntervalDays { get; init; }

    /// <summary>Whether a participant withdrawn before infusion frees the cohort place for a replacement.</summary>
    public bool ReplaceWithdrawnBeforeInfusion { get; init; } = true;

    public IReadOnlyList<string> Validate()
    {
        var problems = new List<string>();
        if (Cohorts.Count == 0) problems.Add("dose escalation needs at least one cohort");
        if (Cohorts.Any(c => c.Participants < 1 || c.CellCount < 1)) problems.Add("every cohort needs participants and a cell count");
        if (!Cohorts.Select(c => c.Number).SequenceEqual(Enumerable.Range(1, Cohorts.Count))) problems.Add("cohorts must be numbered 1, 2, 3, ... in order");
        if (SafetyWindowDays < 1) problems.Add("safetyWindowDays must be at least 1");
        if (SentinelIntervalDays < 0) problems.Add("sentinelIntervalDays must not be negative");
        return problems;
    }
}

public sealed record CohortDefinition(int Number, string Dose, long CellCount, int Participants);

public sealed class InvalidTrialDefinitionException(IReadOnlyList<string> problems)
    : Exception("Invalid trial definition: " + string.Join("; ", problems))
{
    public IReadOnlyList<string> Problems { get; } = problems;
}
