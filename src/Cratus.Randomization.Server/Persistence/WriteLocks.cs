using System.Security.Cryptography;
using System.Text;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>How much of the trial a unit of writing must find settled while it runs (see <see cref="WriteLock"/>).</summary>
public enum WriteSerialization
{
    /// <summary>
    /// The whole trial: the unit takes the trial lock exclusively before it reads anything, so no other write of any
    /// node runs beside it. The default, for every write that is not on a hot path (schedule, unblinding, Phase I,
    /// corrections, accounts): it decides on a settled trial exactly as when all writes ran one at a time.
    /// </summary>
    WholeTrial,

    /// <summary>
    /// Beside other such units: the unit takes the trial lock shared (so it still waits for, and holds off, a whole-trial
    /// write) and then takes, itself, the finer locks its decisions need: the list of one stratum, or Phase I's places,
    /// and at its end the audit tail. Randomizations in different strata, and the audit events of reads, run in parallel.
    /// </summary>
    FinerLocks,

    /// <summary>
    /// Not yet known: the retry-safe writes' transaction, opened before the door knows which use case runs. The use
    /// case's own unit takes its trial lock when it joins; a unit that declares none gets <see cref="WholeTrial"/>
    /// before anything is saved, and before any finer lock.
    /// </summary>
    DeclaredByInnerUnit,
}

/// <summary>
/// The locks that serialize writers, named in this one place for every store. Each is held to the end of the
/// transaction that took it (commit or rollback, or the dropped connection of a crashed node), and taken at most once
/// per transaction. To rule out deadlocks a transaction takes them only in the order of <see cref="Rank"/>:
/// <list type="number">
/// <item><see cref="Trial"/> (rank 0), shared or exclusive; the trial's write lock.</item>
/// <item>one of <see cref="Stratum"/> or <see cref="DoseEscalationPlaces"/> (rank 1), exclusive: the next entry of
/// that stratum's list; the next place of the open Phase I cohort.</item>
/// <item><see cref="AuditTail"/> (rank 2), exclusive: the head of the audit chain (the next sequence number and the
/// hash it links to) and the trial's running totals ("fewer than the target"). Taken as late as possible, just before
/// the unit's last reads, save and commit, so that the one section every write passes through is short.</item>
/// </list>
/// Asking for a lock of a lower rank than one already held is a programming error (it throws); asking for a finer
/// lock with no trial lock held takes the exclusive trial lock first. SQLite has one writer at a time anyway and takes
/// none of them; PostgreSQL takes each as a transaction-scoped advisory lock on <see cref="Key"/>; a store that names
/// locks by text (SQL Server's sp_getapplock) uses <see cref="Name"/>.
/// </summary>
/// <param name="Name">The lock's name: "cratus:trial", "cratus:stratum:UM/F", "cratus:dose-escalation", "cratus:audit-tail".</param>
/// <param name="Key">The 64-bit advisory lock key on PostgreSQL.</param>
/// <param name="Shared">Shared (only <see cref="Trial"/> may be): many holders at once, none beside an exclusive holder.</param>
/// <param name="Rank">The lock's place in the order a transaction takes locks in (0, 1, 2).</param>
public readonly record struct WriteLock(string Name, long Key, bool Shared, int Rank)
{
    /// <summary>
    /// The key of the trial lock: the key every write took exclusively before locks were finer, so that during a rolling
    /// upgrade a node of the old version (exclusive on every write) and a node of this one still exclude each other.
    /// </summary>
    public const long TrialKey = 7301948265;

    /// <summary>The trial's write lock, exclusive (<see cref="WriteSerialization.WholeTrial"/>) or shared (<see cref="WriteSerialization.FinerLocks"/>).</summary>
    public static WriteLock Trial(bool shared) => new("cratus:trial", TrialKey, shared, 0);

    /// <summary>The list of one stratum: whoever holds it decides the stratum's next entry on a settled list.</summary>
    public static WriteLock Stratum(string stratum) => Named("cratus:stratum:" + stratum, 1);

    /// <summary>
    /// Phase I's places. One lock for all cohorts, not one per cohort: which cohort is open is itself decided from every
    /// Phase I participant, so two enrolments could not know which cohort's lock to take before reading under it.
    /// </summary>
    public static readonly WriteLock DoseEscalationPlaces = Named("cratus:dose-escalation", 1);

    /// <summary>The head of the audit chain and the trial's running totals.</summary>
    public static readonly WriteLock AuditTail = Named("cratus:audit-tail", 2);

    /// <summary>An exclusive lock whose key is the first 8 bytes of the SHA-256 of its name (never the trial lock's key:
    /// a collision of two names would only make two writers wait for each other, never let two in together).</summary>
    private static WriteLock Named(string name, int rank)
    {
        var key = BitConverter.ToInt64(SHA256.HashData(Encoding.UTF8.GetBytes(name)), 0);
        return new(name, key == TrialKey ? key + 1 : key, false, rank);
    }
}
