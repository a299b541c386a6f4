using Cratus.Randomization.Domain;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Metadata.Builders;

namespace Cratus.Randomization.Server.Persistence;

/// <summary>
/// The prepared doses (<see cref="DosePreparation"/>): one row per bag, its product id unique. A participant's doses
/// are found by participant id; one active dose per participant is the use cases' rule (writes are serialized).
/// </summary>
internal sealed class DosePreparationConfiguration : IEntityTypeConfiguration<DosePreparation>
{
    public void Configure(EntityTypeBuilder<DosePreparation> b)
    {
        b.ToTable("DosePreparations");
        b.HasKey(d => d.Id);
        b.HasIndex(d => d.ProductId).IsUnique();
        b.HasIndex(d => d.ParticipantId);
        b.Property(d => d.ProductId).HasMaxLength(32);
        b.Property(d => d.ParticipantId).HasMaxLength(32);
        b.Property(d => d.SiteCode).HasMaxLength(16);
        b.Property(d => d.State).HasConversion<string>().HasMaxLength(24);
        b.Property(d => d.PostThawViabilityPercent).HasPrecision(5, 2);
        b.Property(d => d.VolumeMilliliters).HasPrecision(7, 2);
        b.Property(d => d.UnitIds).HasMaxLength(1000);
        b.Property(d => d.PreparedBy).HasMaxLength(128);
        b.Property(d => d.VerifiedBy).HasMaxLength(128);
        b.Property(d => d.DispatchedBy).HasMaxLength(128);
        b.Property(d => d.Courier).HasMaxLength(200);
        b.Property(d => d.BedsideVerifiedBy).HasMaxLength(128);
        b.Property(d => d.Deviation).HasMaxLength(1000);
        b.Property(d => d.ClosedBy).HasMaxLength(128);
        b.Property(d => d.ClosedReason).HasMaxLength(2000);
    }
}

/// <summary>A unit reserved for a dose, and a chain-of-custody event of a dose, name a dose that exists.</summary>
internal sealed class DosePreparationLinksConfiguration : IEntityTypeConfiguration<ProductUnit>, IEntityTypeConfiguration<ProductEvent>
{
    public void Configure(EntityTypeBuilder<ProductUnit> b) =>
        b.HasOne<DosePreparation>().WithMany().HasForeignKey(u => u.PreparationId).OnDelete(DeleteBehavior.Restrict);

    public void Configure(EntityTypeBuilder<ProductEvent> b) =>
        b.HasOne<DosePreparation>().WithMany().HasForeignKey(e => e.PreparationId).OnDelete(DeleteBehavior.Restrict);
}
