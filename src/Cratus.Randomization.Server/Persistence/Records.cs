using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Persistence;

public enum ScheduleSource
{
    Generated,
    Imported,
}

/// <summary>The schedule in place for a trial. One per trial (unique index); it is never replaced or deleted.</summary>
public sealed class ScheduleRecord
{
    public long Id { get; set; }
    public required string TrialId { get; set; }
    public ScheduleSource Source { get; set; }
    /// <summary>Lowercase hex seed of a generated schedule; null for an imported one.</summary>
    public string? SeedHex { get; set; }
    public required string SaltHex { get; set; }
    /// <summary>Block sizes, comma-separated ("3,6").</summary>
    public required string BlockSizes { get; set; }
    public required string CommitmentSha256 { get; set; }
    public DateTimeOffset CommittedAt { get; set; }
    public required string CommittedBy { get; set; }
    public required string Reason { get; set; }
}

/// <summary>One line of the schedule. Unique by (stratum, sequence) and by randomization number.</summary>
public sealed class ScheduleEntryRecord
{
    public long Id { get; set; }
    public long ScheduleId { get; set; }
    public required string Stratum { get; set; }
    public int Sequence { get; set; }
    public required string RandomizationNumber { get; set; }
    public required string ArmCode { get; set; }
}

/// <summary>
/// A randomized participant and the schedule entry they received. The database makes each entry, each
/// (site, screening id), each request id, each participant id and each product code appear once, and
/// (stratum, sequence) once, so entries are used in order and never twice.
/// </summary>
public sealed class ParticipantRecord
{
    public long Id { get; set; }
    public required string ParticipantId { get; set; }
    public required string SiteCode { get; set; }
    public required string ScreeningId { get; set; }
    public required string RequestId { get; set; }
    public required string Stratum { get; set; }
    public int StratumSequence { get; set; }
    public long ScheduleEntryId { get; set; }
    public ScheduleEntryRecord? ScheduleEntry { get; set; }
    public required string ProductCode { get; set; }
    public DateTimeOffset RandomizedAt { get; set; }
    public required string RandomizedBy { get; set; }
    public required string RandomizedByRole { get; set; }

    // The eligibility snapshot (no date of birth is kept).
    public DateOnly ConsentDate { get; set; }
    public int AgeAtConsent { get; set; }
    public Sex Sex { get; set; }
    public int ClinicalFrailtyScale { get; set; }
    public int MmseScore { get; set; }
}
