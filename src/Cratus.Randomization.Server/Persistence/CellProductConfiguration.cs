using Cratus.Randomization.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>A lot number is registered once: the unique index refuses a second lot of that number, whatever the code does.</summary>
internal sealed class ProductLotConfiguration : IEntityTypeConfiguration<ProductLot>
{
    public void Configure(EntityTypeBuilder<ProductLot> b)
    {
        b.ToTable("ProductLots");
        b.HasKey(l => l.Id);
        b.HasIndex(l => l.LotNumber).IsUnique();
        b.Property(l => l.LotNumber).HasMaxLength(32);
        b.Property(l => l.DonorCode).HasMaxLength(32);
        b.Property(l => l.ProductCode).HasMaxLength(16);
        b.Property(l => l.RegisteredBy).HasMaxLength(128);
        b.Property(l => l.ReleasedBy).HasMaxLength(128);
        b.Property(l => l.ReleaseJustification).HasMaxLength(1000);
        b.Property(l => l.QuarantinedBy).HasMaxLength(128);
        b.Property(l => l.QuarantineReason).HasMaxLength(1000);
        b.Ignore(l => l.IsReleased);
    }
}

/// <summary>
/// A unit id (DIN or sponsor id) is registered once (unique index). <see cref="ProductUnit.Version"/> is a concurrency
/// token, so two writers moving the same unit cannot both commit.
/// </summary>
internal sealed class ProductUnitConfiguration : IEntityTypeConfiguration<ProductUnit>
{
    public void Configure(EntityTypeBuilder<ProductUnit> b)
    {
        b.ToTable("ProductUnits");
        b.HasKey(u => u.Id);
        b.HasIndex(u => u.UnitId).IsUnique();
        b.HasIndex(u => new { u.LotId, u.State });
        b.HasIndex(u => u.PreparationId);
        b.HasOne<ProductLot>().WithMany().HasForeignKey(u => u.LotId).OnDelete(DeleteBehavior.Restrict);
        b.Property(u => u.UnitId).HasMaxLength(32);
        b.Property(u => u.ViabilityAtRelease).HasPrecision(5, 1);
        b.Property(u => u.StorageLocation).HasMaxLength(64);
        b.Property(u => u.State).HasConversion<string>().HasMaxLength(16);
        b.Property(u => u.Version).IsConcurrencyToken();
    }
}

/// <summary>Chain-of-custody events: read by unit, by lot, by preparation and by participant, in order of Id.</summary>
internal sealed class ProductEventConfiguration : IEntityTypeConfiguration<ProductEvent>
{
    public void Configure(EntityTypeBuilder<ProductEvent> b)
    {
        b.ToTable("ProductEvents");
        b.HasKey(e => e.Id);
        b.HasIndex(e => e.UnitId);
        b.HasIndex(e => e.LotId);
        b.HasIndex(e => e.PreparationId);
        b.HasIndex(e => e.ParticipantId);
        b.HasOne<ProductLot>().WithMany().HasForeignKey(e => e.LotId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<ProductUnit>().WithMany().HasForeignKey(e => e.UnitId).OnDelete(DeleteBehavior.Restrict);
        b.HasOne<AuditEventRecord>().WithMany().HasForeignKey(e => e.AuditSequence).OnDelete(DeleteBehavior.Restrict);
        b.Property(e => e.ParticipantId).HasMaxLength(32);
        b.Property(e => e.Kind).HasMaxLength(48);
        b.Property(e => e.From).HasConversion<string>().HasMaxLength(16);
        b.Property(e => e.To).HasConversion<string>().HasMaxLength(16);
        b.Property(e => e.By).HasMaxLength(128);
        b.Property(e => e.Role).HasMaxLength(32);
        b.Property(e => e.Reason).HasMaxLength(1000);
        b.Property(e => e.Detail).HasMaxLength(2000);
    }
}
