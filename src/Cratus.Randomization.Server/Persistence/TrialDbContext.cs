using Cratus.Randomization.Domain;
using Microsoft.AspNetCore.Identity.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Diagnostics;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// The trial's data, the same model on every provider. Each provider has a subclass of its own (in its folder,
/// with its own migrations); everything else asks for this type.
/// </summary>
public abstract class TrialDbContext : IdentityUserContext<TrialUser>
{
    protected TrialDbContext(DbContextOptions options) : base(options)
    {
        // A write that fails rolls its whole transaction back and runs again from fresh reads (InTransactionAsync),
        // so SaveChanges needs no savepoint of its own: two statements fewer in every write.
        Database.AutoSavepointsEnabled = false;
    }

    public DbSet<ScheduleRecord> Schedules => Set<ScheduleRecord>();
    public DbSet<ScheduleEntryRecord> ScheduleEntries => Set<ScheduleEntryRecord>();
    /// <summary>Every participant of both phases (<see cref="Participant"/>).</summary>
    public DbSet<Participant> Participants => Set<Participant>();
    public DbSet<SiteRecord> Sites => Set<SiteRecord>();
    public DbSet<AuditEventRecord> AuditEvents => Set<AuditEventRecord>();
    public DbSet<UnblindingRequest> UnblindingRequests => Set<UnblindingRequest>();
    public DbSet<PasswordHistoryRecord> PasswordHistory => Set<PasswordHistoryRecord>();
    public DbSet<SiteSystemRecord> SiteSystems => Set<SiteSystemRecord>();
    public DbSet<BootstrapSecretRecord> BootstrapSecrets => Set<BootstrapSecretRecord>();
    public DbSet<SafetyEventRecord> SafetyEvents => Set<SafetyEventRecord>();
    public DbSet<DsmbDecisionRecord> DsmbDecisions => Set<DsmbDecisionRecord>();
    public DbSet<TrialTotalsRecord> TrialTotals => Set<TrialTotalsRecord>();
    public DbSet<WriteRequestRecord> WriteRequests => Set<WriteRequestRecord>();
    public DbSet<SigningProof> SigningProofs => Set<SigningProof>();
    public DbSet<SignatureRecord> Signatures => Set<SignatureRecord>();
    /// <summary>Notifications waiting for or done with delivery (Notifications/OutboxDelivery).</summary>
    public DbSet<Notifications.OutboxMessageRecord> OutboxMessages => Set<Notifications.OutboxMessageRecord>();
    /// <summary>A rehearsal's trial clock offset (one row; UAT and training only).</summary>
    public DbSet<Rehearsal.TrialClockRecord> TrialClock => Set<Rehearsal.TrialClockRecord>();
    /// <summary>Donor lots of the cell product (CellProduct.cs).</summary>
    public DbSet<ProductLot> ProductLots => Set<ProductLot>();
    /// <summary>Cryopreserved units (vials or bags) of the lots.</summary>
    public DbSet<ProductUnit> ProductUnits => Set<ProductUnit>();
    /// <summary>The chain-of-custody events of lots, units and prepared doses.</summary>
    public DbSet<ProductEvent> ProductEvents => Set<ProductEvent>();
    /// <summary>The prepared doses, one per bag (<see cref="DosePreparation"/>).</summary>
    public DbSet<DosePreparation> DosePreparations => Set<DosePreparation>();

    /// <summary>The attempt of the outermost write now running (1, then 2 and up after a conflict); 0 outside one.</summary>
    public int WriteAttempt { get; internal set; }

    private List<Action>? _afterCommit;

    /// <summary>
    /// Runs <paramref name="action"/> once the write now running has committed, or at once outside a write; dropped if
    /// the write rolls back. For what must not claim a change that may still be undone (the log lines of a write run
    /// inside the retry-safe writes' transaction, whose commit comes after the use case returns).
    /// </summary>
    public void AfterCommit(Action action)
    {
        if (Database.CurrentTransaction is null) action();
        else (_afterCommit ??= []).Add(action);
    }

    internal void RunAfterCommit()
    {
        var actions = _afterCommit;
        _afterCommit = null;
        actions?.ForEach(a => a());
    }

    internal void ForgetAfterCommit() => _afterCommit = null;

    private readonly List<WriteLock> _heldLocks = [];

    /// <summary>
    /// Takes <paramref name="writeLock"/> in the current transaction and holds it to the end of the transaction: at once
    /// if already held, and in the order <see cref="WriteLock"/> documents (a finer lock with no trial lock held takes the
    /// exclusive trial lock first; a lock ranked below one already held is a programming error). Under the exclusive
    /// trial lock no other writer runs, so finer locks cost nothing then.
    /// </summary>
    public async Task LockAsync(WriteLock writeLock, CancellationToken ct)
    {
        if (Database.CurrentTransaction is null) throw new InvalidOperationException($"{writeLock.Name} is taken inside the transaction it serializes");
        if (_heldLocks.Any(h => h.Name == writeLock.Name && (h.Shared == writeLock.Shared || !h.Shared))) return;
        if (_heldLocks.Any(h => h.Rank == 0 && !h.Shared)) return;
        if (writeLock.Rank > 0 && !_heldLocks.Any(h => h.Rank == 0)) await LockAsync(WriteLock.Trial(shared: false), ct);
        if (_heldLocks.FirstOrDefault(h => h.Rank >= writeLock.Rank) is { Name: not null } held)
            throw new InvalidOperationException($"write locks are taken in order: {writeLock.Name} was asked for while {held.Name} is held");
        await TakeLockAsync(writeLock, _heldLocks.Count == 0, ct);
        _heldLocks.Add(writeLock);
    }

    /// <summary>Takes the trial lock a unit of writing declares (<see cref="WriteSerialization"/>), unless one is held.</summary>
    internal Task SerializeAsync(WriteSerialization serialization, CancellationToken ct) => serialization switch
    {
        WriteSerialization.WholeTrial => LockAsync(WriteLock.Trial(shared: false), ct),
        WriteSerialization.FinerLocks => _heldLocks.Any(h => h.Rank == 0) ? Task.CompletedTask : LockAsync(WriteLock.Trial(shared: true), ct),
        _ => Task.CompletedTask,
    };

    /// <summary>Before a unit saves: a unit that declared no trial lock (and took none) but has changes to save gets the
    /// exclusive one (a retry answered from the write ledger saves nothing, and holds no one up).</summary>
    internal Task EnsureSerializedAsync(CancellationToken ct) =>
        _heldLocks.Any(h => h.Rank == 0) || !ChangeTracker.HasChanges() ? Task.CompletedTask : LockAsync(WriteLock.Trial(shared: false), ct);

    /// <summary>The transaction has ended, and every lock it took with it.</summary>
    internal void ForgetLocks() => _heldLocks.Clear();

    /// <summary>
    /// Takes one write lock on the database, held to the end of the current transaction. SQLite serializes every writer
    /// anyway (one write turn per file) and takes nothing here; PostgreSQL takes an advisory lock.
    /// </summary>
    /// <param name="writeLock">The lock, as <see cref="WriteLock"/> names it.</param>
    /// <param name="firstOfTransaction">Whether it is the first lock the transaction takes (a provider may send its
    /// transaction settings with it, in the same round trip).</param>
    /// <param name="ct">Cancels the wait.</param>
    protected virtual Task TakeLockAsync(WriteLock writeLock, bool firstOfTransaction, CancellationToken ct) => Task.CompletedTask;

    /// <summary>
    /// Runs one unit of writing in a transaction and commits it with everything it added, returning once the commit is
    /// durable. Writers are serialized by the locks they take (<see cref="LockAsync"/>, <see cref="WriteLock"/>), and
    /// by default the commit waits for the disk.
    /// </summary>
    public virtual async Task<T> WriteAsync<T>(Func<CancellationToken, Task<T>> work, CancellationToken ct)
    {
        await using var transaction = await Database.BeginTransactionAsync(ct);
        var result = await work(ct);
        await SaveChangesAsync(ct);
        await transaction.CommitAsync(ct);
        return result;
    }

    protected override void OnModelCreating(ModelBuilder builder)
    {
        base.OnModelCreating(builder);
        // The OpenID Connect server's applications (clients), authorizations, scopes and tokens.
        builder.UseOpenIddict();
        builder.ApplyConfigurationsFromAssembly(typeof(TrialDbContext).Assembly);
    }
}

internal sealed class TrialUserConfiguration : IEntityTypeConfiguration<TrialUser>
{
    public void Configure(EntityTypeBuilder<TrialUser> b)
    {
        b.Property(u => u.Role).HasMaxLength(32);
        b.Property(u => u.Sites).HasMaxLength(1000);
        b.Property(u => u.FullName).HasMaxLength(200);
        b.Ignore(u => u.SiteList);
    }
}

internal sealed class SigningProofConfiguration : IEntityTypeConfiguration<SigningProof>
{
    public void Configure(EntityTypeBuilder<SigningProof> b)
    {
        b.ToTable("SigningProofs");
        b.HasKey(p => p.Id);
        b.HasIndex(p => p.ProofHash).IsUnique();
        b.Property(p => p.ProofHash).HasMaxLength(64);
        b.Property(p => p.Signer).HasMaxLength(128);
        b.Property(p => p.Action).HasConversion<string>().HasMaxLength(32);
        b.Property(p => p.RecordId).HasMaxLength(64);
    }
}

/// <summary>A proof signs once: the unique index on SigningProofId refuses a second signature with it, whatever the code does.</summary>
internal sealed class SignatureRecordConfiguration : IEntityTypeConfiguration<SignatureRecord>
{
    public void Configure(EntityTypeBuilder<SignatureRecord> b)
    {
        b.ToTable("Signatures");
        b.HasKey(s => s.Id);
        b.HasIndex(s => s.SigningProofId).IsUnique();
        b.HasIndex(s => new { s.Action, s.RecordId });
        b.HasIndex(s => s.AuditSequence).IsUnique();
        b.HasOne<SigningProof>().WithMany().HasForeignKey(s => s.SigningProofId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<AuditEventRecord>().WithMany().HasForeignKey(s => s.AuditSequence).OnDelete(DeleteBehavior.Restrict);
        b.Property(s => s.Action).HasConversion<string>().HasMaxLength(32);
        b.Property(s => s.RecordId).HasMaxLength(64);
        b.Property(s => s.SignerUserName).HasMaxLength(128);
        b.Property(s => s.SignerFullName).HasMaxLength(200);
        b.Property(s => s.SignerRole).HasMaxLength(32);
        b.Property(s => s.Meaning).HasConversion<string>().HasMaxLength(16);
        b.Property(s => s.RecordSha256).HasMaxLength(64);
        b.Ignore(s => s.Manifestation);
    }
}

internal sealed class WriteRequestRecordConfiguration : IEntityTypeConfiguration<WriteRequestRecord>
{
    public void Configure(EntityTypeBuilder<WriteRequestRecord> b)
    {
        b.ToTable("WriteRequests");
        b.HasKey(r => r.RequestId);
        b.Property(r => r.RequestId).HasMaxLength(36);
        b.Property(r => r.Method).HasMaxLength(200);
        b.Property(r => r.CallerSubject).HasMaxLength(200);
        b.Property(r => r.RequestSha256).HasMaxLength(64);
    }
}

internal sealed class SiteRecordConfiguration : IEntityTypeConfiguration<SiteRecord>
{
    public void Configure(EntityTypeBuilder<SiteRecord> b)
    {
        b.ToTable("Sites");
        b.HasKey(s => s.Code);
        b.Property(s => s.Code).HasMaxLength(16);
        b.Property(s => s.Name).HasMaxLength(200);
    }
}

internal sealed class AuditEventRecordConfiguration : IEntityTypeConfiguration<AuditEventRecord>
{
    public void Configure(EntityTypeBuilder<AuditEventRecord> b)
    {
        b.ToTable("AuditEvents");
        // The sequence is the key and is assigned by the appender, never by the database: two appends that race
        // for the same number collide on the key, and one of them retries after the other.
        b.HasKey(e => e.Sequence);
        b.Property(e => e.Sequence).ValueGeneratedNever();
        b.HasIndex(e => e.Action);
        b.HasIndex(e => e.Target);
        b.Property(e => e.User).HasMaxLength(128);
        b.Property(e => e.Role).HasMaxLength(32);
        b.Property(e => e.Site).HasMaxLength(16);
        b.Property(e => e.Action).HasMaxLength(64);
        b.Property(e => e.Target).HasMaxLength(128);
        b.Property(e => e.Reason).HasMaxLength(1000);
        b.Property(e => e.Details).HasMaxLength(2000);
        b.Property(e => e.PreviousHash).HasMaxLength(64);
        b.Property(e => e.Hash).HasMaxLength(64);
        b.Property(e => e.KeyId).HasMaxLength(16);
        b.Property(e => e.Mac).HasMaxLength(64);
    }
}

internal sealed class UnblindingRequestConfiguration : IEntityTypeConfiguration<UnblindingRequest>
{
    public void Configure(EntityTypeBuilder<UnblindingRequest> b)
    {
        b.ToTable("UnblindingRequests");
        b.HasIndex(r => r.RequestId).IsUnique();
        b.HasIndex(r => new { r.Scope, r.ApprovedAt });
        b.Property(r => r.RequestId).HasMaxLength(32);
        b.Property(r => r.Scope).HasConversion<string>().HasMaxLength(16);
        b.Property(r => r.ParticipantId).HasMaxLength(32);
        b.Property(r => r.Reason).HasMaxLength(1000);
        b.Property(r => r.RequestedBy).HasMaxLength(128);
        b.Property(r => r.ApprovedBy).HasMaxLength(128);
        b.Property(r => r.ApprovalReason).HasMaxLength(1000);
    }
}

internal sealed class PasswordHistoryRecordConfiguration : IEntityTypeConfiguration<PasswordHistoryRecord>
{
    public void Configure(EntityTypeBuilder<PasswordHistoryRecord> b)
    {
        b.ToTable("PasswordHistory");
        b.HasIndex(h => h.UserId);
        b.Property(h => h.UserId).HasMaxLength(64);
        b.Property(h => h.PasswordHash).HasMaxLength(256);
    }
}

internal sealed class SiteSystemRecordConfiguration : IEntityTypeConfiguration<SiteSystemRecord>
{
    public void Configure(EntityTypeBuilder<SiteSystemRecord> b)
    {
        b.ToTable("SiteSystems");
        b.HasKey(c => c.ClientId);
        b.Property(c => c.ClientId).HasMaxLength(32);
        b.Property(c => c.DisplayName).HasMaxLength(200);
        b.Property(c => c.Sites).HasMaxLength(1000);
        b.Property(c => c.RegisteredBy).HasMaxLength(128);
        b.Property(c => c.RevokedBy).HasMaxLength(128);
        b.Ignore(c => c.SiteList);
    }
}

internal sealed class BootstrapSecretRecordConfiguration : IEntityTypeConfiguration<BootstrapSecretRecord>
{
    public void Configure(EntityTypeBuilder<BootstrapSecretRecord> b)
    {
        b.ToTable("BootstrapSecrets");
        b.Property(s => s.Id).ValueGeneratedNever();
        b.Property(s => s.SecretHash).HasMaxLength(64);
    }
}

internal sealed class ScheduleRecordConfiguration : IEntityTypeConfiguration<ScheduleRecord>
{
    public void Configure(EntityTypeBuilder<ScheduleRecord> b)
    {
        b.ToTable("Schedules");
        b.HasIndex(s => new { s.TrialId, s.Part }).IsUnique();
        b.Property(s => s.TrialId).HasMaxLength(64);
        b.Property(s => s.Source).HasConversion<string>().HasMaxLength(16);
        b.Property(s => s.SeedSealed).HasMaxLength(256);
        b.Property(s => s.SaltHex).HasMaxLength(64);
        b.Property(s => s.BlockSizesSealed).HasMaxLength(256);
        b.Property(s => s.CommitmentSha256).HasMaxLength(64);
        b.Property(s => s.CommittedBy).HasMaxLength(128);
        b.Property(s => s.Reason).HasMaxLength(1000);
        b.Property(s => s.PreviousCommitmentSha256).HasMaxLength(64);
        b.Property(s => s.SiteCode).HasMaxLength(16);
        b.Property(s => s.DesignSealed).HasMaxLength(1024);
    }
}

internal sealed class ScheduleEntryRecordConfiguration : IEntityTypeConfiguration<ScheduleEntryRecord>
{
    public void Configure(EntityTypeBuilder<ScheduleEntryRecord> b)
    {
        b.ToTable("ScheduleEntries");
        b.HasOne<ScheduleRecord>().WithMany().HasForeignKey(e => e.ScheduleId).OnDelete(DeleteBehavior.Restrict);
        b.HasIndex(e => new { e.Stratum, e.Sequence }).IsUnique();
        b.HasIndex(e => e.RandomizationNumber).IsUnique();
        b.Property(e => e.Stratum).HasMaxLength(64);
        b.Property(e => e.RandomizationNumber).HasMaxLength(32);
        b.Property(e => e.ArmSealed).HasMaxLength(128);
        b.Property(e => e.EntrySeal).HasMaxLength(80);
    }
}

/// <summary>
/// One table for both phases. The database keeps the trial's uniqueness rules itself: a person takes part once (site,
/// screening id), each participant id, request id and product code once, each schedule entry and each (stratum,
/// sequence) once (so entries are used in order, never twice), and each (cohort, place) once (so a cohort never takes
/// one too many). The Phase II columns are empty in Phase I rows and the reverse; a unique index does not count empty
/// values, so each rule binds only the phase it belongs to.
/// </summary>
internal sealed class ParticipantConfiguration : IEntityTypeConfiguration<Participant>
{
    public void Configure(EntityTypeBuilder<Participant> b)
    {
        b.ToTable("Participants");
        b.HasKey(p => p.Id);
        b.HasIndex(p => p.ParticipantId).IsUnique();
        b.HasIndex(p => new { p.SiteCode, p.ScreeningId }).IsUnique();
        b.HasIndex(p => p.RequestId).IsUnique();
        b.HasIndex(p => p.ProductCode).IsUnique();
        b.HasIndex(p => p.ScheduleEntryId).IsUnique();
        b.HasIndex(p => new { p.Stratum, p.StratumSequence }).IsUnique();
        b.HasIndex(p => new { p.Cohort, p.Place }).IsUnique();
        b.HasIndex(p => new { p.Phase, p.Status });
        b.HasOne<ScheduleEntryRecord>().WithMany().HasForeignKey(p => p.ScheduleEntryId).OnDelete(DeleteBehavior.Restrict);
        b.Property(p => p.ParticipantId).HasMaxLength(32);
        b.Property(p => p.Phase).HasConversion<string>().HasMaxLength(16);
        b.Property(p => p.Status).HasConversion<string>().HasMaxLength(16);
        b.Property(p => p.SiteCode).HasMaxLength(16);
        b.Property(p => p.ScreeningId).HasMaxLength(32);
        b.Property(p => p.RequestId).HasMaxLength(64);
        b.Property(p => p.ProductCode).HasMaxLength(32);
        b.Property(p => p.EnrolledBy).HasMaxLength(128);
        b.Property(p => p.EnrolledByRole).HasMaxLength(32);
        b.Property(p => p.Stratum).HasMaxLength(64);
        b.Property(p => p.AllocationSeal).HasMaxLength(80);
        b.Property(p => p.Sex).HasConversion<string>().HasMaxLength(8);
        b.Property(p => p.InfusionRecordedBy).HasMaxLength(128);
        b.Property(p => p.WithdrawalReason).HasMaxLength(1000);
        b.Property(p => p.EmergencyUnblindedBy).HasMaxLength(128);
        b.Property(p => p.RandomizedInErrorType).HasConversion<string>().HasMaxLength(16);
        b.Property(p => p.RandomizedInErrorReason).HasMaxLength(1000);
        b.Property(p => p.CorrectSex).HasConversion<string>().HasMaxLength(8);
        b.Property(p => p.CorrectSiteCode).HasMaxLength(16);
        b.Property(p => p.RandomizedInErrorBy).HasMaxLength(128);
    }
}

internal sealed class SafetyEventRecordConfiguration : IEntityTypeConfiguration<SafetyEventRecord>
{
    public void Configure(EntityTypeBuilder<SafetyEventRecord> b)
    {
        b.ToTable("SafetyEvents");
        b.HasIndex(e => e.ParticipantId);
        b.Property(e => e.ParticipantId).HasMaxLength(32);
        b.Property(e => e.Type).HasConversion<string>().HasMaxLength(64);
        b.Property(e => e.ReportedBy).HasMaxLength(128);
    }
}

internal sealed class DsmbDecisionRecordConfiguration : IEntityTypeConfiguration<DsmbDecisionRecord>
{
    public void Configure(EntityTypeBuilder<DsmbDecisionRecord> b)
    {
        b.ToTable("DsmbDecisions");
        b.Property(d => d.Kind).HasConversion<string>().HasMaxLength(32);
        b.Property(d => d.DecidedBy).HasMaxLength(128);
        b.Property(d => d.Reason).HasMaxLength(1000);
    }
}

internal sealed class TrialTotalsRecordConfiguration : IEntityTypeConfiguration<TrialTotalsRecord>
{
    public void Configure(EntityTypeBuilder<TrialTotalsRecord> b)
    {
        b.ToTable("TrialTotals");
        b.HasKey(t => t.TrialId);
        b.Property(t => t.TrialId).HasMaxLength(64);
    }
}

public static class TrialDbContextOptions
{
    /// <summary>
    /// A unique index refusing the loser of a race (two calls for one participant, one request id, one schedule entry)
    /// is an expected outcome that the write retries or answers; EF Core would log each as an Error with a stack
    /// trace. Its failure events go to Debug; real faults are logged once, by the gRPC error interceptor, at Warning
    /// (database unavailable) or Error (unexpected). Every provider's options call this.
    /// </summary>
    public static DbContextOptionsBuilder QuietExpectedConflicts(this DbContextOptionsBuilder options) =>
        options.ConfigureWarnings(w => w.Log(
            (CoreEventId.SaveChangesFailed, LogLevel.Debug),
            (CoreEventId.QueryIterationFailed, LogLevel.Debug),
            (RelationalEventId.CommandError, LogLevel.Debug),
            (RelationalEventId.TransactionError, LogLevel.Debug)));
}
