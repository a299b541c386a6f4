using System.Globalization;
using System.Security.Cryptography;
using Cratus.Randomization.Domain;

namespace Cratus.Randomization.Server.Security;

/// <summary>
/// A stored allocation, schedule entry or cohort enrolment failed its integrity check: the row was edited, swapped,
/// moved or copied in the database, or the key it was sealed under is missing. The read fails closed (DATA_LOSS)
/// rather than hand out a dose that may belong to someone else. The message names the participant or the entry's
/// stratum and sequence, never an arm.
/// </summary>
public sealed class AllocationIntegrityException : CryptographicException
{
    public AllocationIntegrityException() : base("A stored allocation failed its integrity check.")
    {
    }

    public AllocationIntegrityException(string message) : base(message)
    {
    }

    public AllocationIntegrityException(string message, Exception innerException) : base(message, innerException)
    {
    }

    private AllocationIntegrityException(string message, string? participantId, string? scheduleEntry) : base(message)
    {
        ParticipantId = participantId;
        ScheduleEntry = scheduleEntry;
    }

    public static AllocationIntegrityException ForParticipant(string participantId) => new(
        $"The allocation of participant {participantId} failed its integrity check: it was changed outside the service.", participantId, null);

    public static AllocationIntegrityException ForEntry(string scheduleEntry) => new(
        $"Schedule entry {scheduleEntry} failed its integrity check: it was changed outside the service.", null, scheduleEntry);

    /// <summary>The participant whose allocation failed, when it is a participant's.</summary>
    public string? ParticipantId { get; }

    /// <summary>The schedule entry that failed, as "stratum#sequence", when it is an entry not yet used.</summary>
    public string? ScheduleEntry { get; }
}

/// <summary>
/// Seals and checks the MACs of <see cref="AllocationBinding"/> with keys derived from the ring. A seal is
/// "keyId:base64(mac)", so rotation works: any ring key verifies, the active one seals. Every failure is logged as a
/// security event naming the participant (or entry), never an arm.
/// </summary>
public sealed partial class AllocationSeals(IntegrityKeys keys, ILogger<AllocationSeals> logger)
{
    public string ActiveKeyId => keys.ActiveKeyId;

    public string Seal(ParticipantAllocationFacts facts) => Format(AllocationBinding.ComputeMac(Active(), facts));

    public string Seal(ScheduleEntryFacts facts) => Format(AllocationBinding.ComputeMac(Active(), facts));

    public string Seal(CohortEnrolmentFacts facts) => Format(AllocationBinding.ComputeMac(Active(), facts));

    public bool IsValid(ParticipantAllocationFacts facts, string seal) => Check(seal, key => AllocationBinding.ComputeMac(key, facts));

    public bool IsValid(ScheduleEntryFacts facts, string seal) => Check(seal, key => AllocationBinding.ComputeMac(key, facts));

    public bool IsValid(CohortEnrolmentFacts facts, string seal) => Check(seal, key => AllocationBinding.ComputeMac(key, facts));

    /// <summary>Fails closed: throws (and logs a security event) unless the participant's allocation is as sealed.</summary>
    public void Verify(ParticipantAllocationFacts facts, string seal)
    {
        if (!IsValid(facts, seal)) throw Failed(facts.ParticipantId);
    }

    public void Verify(CohortEnrolmentFacts facts, string seal)
    {
        if (!IsValid(facts, seal)) throw Failed(facts.ParticipantId);
    }

    public void Verify(ScheduleEntryFacts facts, string seal)
    {
        if (IsValid(facts, seal)) return;
        var entry = EntryName(facts.Stratum, facts.Sequence);
        LogEntryIntegrityFailure(logger, entry);
        throw AllocationIntegrityException.ForEntry(entry);
    }

    public AllocationIntegrityException Failed(string participantId)
    {
        LogAllocationIntegrityFailure(logger, participantId);
        return AllocationIntegrityException.ForParticipant(participantId);
    }

    public void ReportEntry(string stratum, int sequence)
    {
        var entry = EntryName(stratum, sequence);
        LogEntryIntegrityFailure(logger, entry);
    }

    public void ReportParticipant(string participantId) => LogAllocationIntegrityFailure(logger, participantId);

    public static string EntryName(string stratum, int sequence) => string.Create(CultureInfo.InvariantCulture, $"{stratum}#{sequence}");

    private byte[] Active() => keys.Active(IntegrityKeys.AllocationPurpose);

    private string Format(byte[] mac) => keys.ActiveKeyId + ":" + Convert.ToBase64String(mac);

    private bool Check(string seal, Func<byte[], byte[]> compute)
    {
        var separator = seal.IndexOf(':', StringComparison.Ordinal);
        if (separator <= 0) return false;
        if (keys.Find(IntegrityKeys.AllocationPurpose, seal[..separator]) is not { } key) return false;
        Span<byte> stored = stackalloc byte[33];
        if (!Convert.TryFromBase64Chars(seal.AsSpan(separator + 1), stored, out var length) || length != 32) return false;
        return CryptographicOperations.FixedTimeEquals(compute(key), stored[..length]);
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Critical,
        Message = "SECURITY: the stored allocation of participant {ParticipantId} failed its integrity check (changed outside the service, or its key is missing); every read of it is refused")]
    private static partial void LogAllocationIntegrityFailure(ILogger logger, string participantId);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Critical,
        Message = "SECURITY: schedule entry {ScheduleEntry} failed its integrity check (changed outside the service, or its key is missing); it will not be allocated")]
    private static partial void LogEntryIntegrityFailure(ILogger logger, string scheduleEntry);
}
