using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Persistence;

public sealed class TrialDbContext(DbContextOptions<TrialDbContext> options) : DbContext(options)
{
    public DbSet<ScheduleRecord> Schedules => Set<ScheduleRecord>();
    public DbSet<ScheduleEntryRecord> ScheduleEntries => Set<ScheduleEntryRecord>();
    public DbSet<ParticipantRecord> Participants => Set<ParticipantRecord>();

    protected override void OnModelCreating(ModelBuilder modelBuilder) =>
        modelBuilder.ApplyConfigurationsFromAssembly(typeof(TrialDbContext).Assembly);
}

internal sealed class ScheduleRecordConfiguration : IEntityTypeConfiguration<ScheduleRecord>
{
    public void Configure(EntityTypeBuilder<ScheduleRecord> b)
    {
        b.ToTable("Schedules");
        b.HasIndex(s => s.TrialId).IsUnique();
        b.Property(s => s.TrialId).HasMaxLength(64);
        b.Property(s => s.Source).HasConversion<string>().HasMaxLength(16);
        b.Property(s => s.SeedHex).HasMaxLength(64);
        b.Property(s => s.SaltHex).HasMaxLength(64);
        b.Property(s => s.BlockSizes).HasMaxLength(128);
        b.Property(s => s.CommitmentSha256).HasMaxLength(64);
        b.Property(s => s.CommittedBy).HasMaxLength(128);
        b.Property(s => s.Reason).HasMaxLength(1000);
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
        b.Property(e => e.ArmCode).HasMaxLength(16);
    }
}

internal sealed class ParticipantRecordConfiguration : IEntityTypeConfiguration<ParticipantRecord>
{
    public void Configure(EntityTypeBuilder<ParticipantRecord> b)
    {
        b.ToTable("Participants");
        b.HasIndex(p => p.ParticipantId).IsUnique();
        b.HasIndex(p => new { p.SiteCode, p.ScreeningId }).IsUnique();
        b.HasIndex(p => p.RequestId).IsUnique();
        b.HasIndex(p => p.ScheduleEntryId).IsUnique();
        b.HasIndex(p => new { p.Stratum, p.StratumSequence }).IsUnique();
        b.HasIndex(p => p.ProductCode).IsUnique();
        b.HasOne(p => p.ScheduleEntry).WithMany().HasForeignKey(p => p.ScheduleEntryId).OnDelete(DeleteBehavior.Restrict);
        b.Property(p => p.ParticipantId).HasMaxLength(32);
        b.Property(p => p.SiteCode).HasMaxLength(16);
        b.Property(p => p.ScreeningId).HasMaxLength(32);
        b.Property(p => p.RequestId).HasMaxLength(64);
        b.Property(p => p.Stratum).HasMaxLength(64);
        b.Property(p => p.ProductCode).HasMaxLength(32);
        b.Property(p => p.RandomizedBy).HasMaxLength(128);
        b.Property(p => p.RandomizedByRole).HasMaxLength(32);
        b.Property(p => p.Sex).HasConversion<string>().HasMaxLength(8);
    }
}
