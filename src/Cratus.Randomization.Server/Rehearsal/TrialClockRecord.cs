using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Rehearsal;

/// <summary>
/// The one row that holds how far a rehearsal's trial clock runs ahead of the real time, so that a restart and every
/// node see the same trial time (each node reads it at start and again every Rehearsal:ClockRefreshInterval). Who moved
/// it, when and why is in the audit trail (trial_clock.advanced); this row only holds the offset.
/// </summary>
public sealed class TrialClockRecord
{
    /// <summary>The row's key; there is only ever <see cref="Only"/>.</summary>
    public int Id { get; set; }
    /// <summary>How far ahead of the real time the trial clock runs, in milliseconds (never less than before).</summary>
    public long OffsetMilliseconds { get; set; }

    /// <summary>The key of the one row.</summary>
    public const int Only = 1;
}

internal sealed class TrialClockRecordConfiguration : IEntityTypeConfiguration<TrialClockRecord>
{
    public void Configure(EntityTypeBuilder<TrialClockRecord> b)
    {
        b.ToTable("TrialClock");
        b.HasKey(c => c.Id);
        b.Property(c => c.Id).ValueGeneratedNever();
    }
}
