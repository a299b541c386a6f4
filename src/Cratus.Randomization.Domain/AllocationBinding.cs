using System.Buffers;
using System.Security.Cryptography;
using System.Text.Json;

namespace Cratus.Randomization.Domain;

/// <summary>
/// What binds a randomized participant to the schedule entry they received, as stored: the participant's own fields
/// and the entry's (its id, stratum, sequence, randomization number and sealed arm, the ciphertext, never the arm).
/// </summary>
public sealed record ParticipantAllocationFacts(
    string ParticipantId, string SiteCode, string ScreeningId, string Stratum, int StratumSequence, string ProductCode,
    long ScheduleEntryId, string EntryStratum, int EntrySequence, string RandomizationNumber, string ArmSealed);

/// <summary>One line of the schedule as stored, used or not.</summary>
public sealed record ScheduleEntryFacts(string Stratum, int Sequence, string RandomizationNumber, string ArmSealed);

/// <summary>A Phase I participant's placement as stored: the cohort decides the dose the pharmacy prepares.</summary>
public sealed record CohortEnrolmentFacts(string ParticipantId, string SiteCode, string ScreeningId, int Cohort, string ProductCode);

/// <summary>
/// Keyed MACs that bind each allocation to its participant, randomization number, stratum and position, so that an
/// edit, swap, move or copy of a row in the database is detected on every read. Each MAC is HMAC-SHA256 over a
/// canonical UTF-8 JSON array (System.Text.Json's default escaping) whose first element names what is bound and the
/// version of the encoding; a JSON array cannot shift a boundary between fields. The key is a parameter: the host
/// derives it from its key ring and never stores it with the data.
/// </summary>
public static class AllocationBinding
{
    /// <summary>["cratus-allocation-v1", participant_id, site, screening_id, stratum, stratum_sequence, product_code,
    /// schedule_entry_id, entry_stratum, entry_sequence, randomization_number, arm_sealed].</summary>
    public static byte[] ComputeMac(ReadOnlySpan<byte> key, ParticipantAllocationFacts f)
    {
        var buffer = new ArrayBufferWriter<byte>(512);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartArray();
            w.WriteStringValue("cratus-allocation-v1");
            w.WriteStringValue(f.ParticipantId);
            w.WriteStringValue(f.SiteCode);
            w.WriteStringValue(f.ScreeningId);
            w.WriteStringValue(f.Stratum);
            w.WriteNumberValue(f.StratumSequence);
            w.WriteStringValue(f.ProductCode);
            w.WriteNumberValue(f.ScheduleEntryId);
            w.WriteStringValue(f.EntryStratum);
            w.WriteNumberValue(f.EntrySequence);
            w.WriteStringValue(f.RandomizationNumber);
            w.WriteStringValue(f.ArmSealed);
            w.WriteEndArray();
        }
        return HMACSHA256.HashData(key, buffer.WrittenSpan);
    }

    /// <summary>["cratus-schedule-entry-v1", stratum, sequence, randomization_number, arm_sealed].</summary>
    public static byte[] ComputeMac(ReadOnlySpan<byte> key, ScheduleEntryFacts f) =>
        HMACSHA256.HashData(key, JsonSerializer.SerializeToUtf8Bytes(new object[]
        {
            "cratus-schedule-entry-v1", f.Stratum, f.Sequence, f.RandomizationNumber, f.ArmSealed,
        }));

    /// <summary>["cratus-cohort-enrolment-v1", participant_id, site, screening_id, cohort, product_code].</summary>
    public static byte[] ComputeMac(ReadOnlySpan<byte> key, CohortEnrolmentFacts f) =>
        HMACSHA256.HashData(key, JsonSerializer.SerializeToUtf8Bytes(new object[]
        {
            "cratus-cohort-enrolment-v1", f.ParticipantId, f.SiteCode, f.ScreeningId, f.Cohort, f.ProductCode,
        }));
}
