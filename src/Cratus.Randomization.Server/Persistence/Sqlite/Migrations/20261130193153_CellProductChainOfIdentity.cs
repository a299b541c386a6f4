using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class CellProductChainOfIdentity : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "DosePreparations",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ProductId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    SiteCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 24, nullable: false),
                    PreparationStartedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    UseBy = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    PostThawCellCount = table.Column<long>(type: "INTEGER", nullable: true),
                    PostThawViabilityPercent = table.Column<decimal>(type: "TEXT", precision: 5, scale: 2, nullable: true),
                    FinalCells = table.Column<long>(type: "INTEGER", nullable: true),
                    VolumeMilliliters = table.Column<decimal>(type: "TEXT", precision: 7, scale: 2, nullable: true),
                    UnitIds = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    PreparedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    PreparedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    VerifiedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    VerifiedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    DispatchedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    DispatchedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    Courier = table.Column<string>(type: "TEXT", maxLength: 200, nullable: true),
                    BedsideVerifiedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    BedsideVerifiedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    InfusedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    Deviation = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    ClosedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    ClosedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    ClosedReason = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DosePreparations", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ProductLots",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    LotNumber = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    DonorCode = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    ProductCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    Expiry = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    RegisteredAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    RegisteredBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    ReleasedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    ReleasedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    ExceptionalRelease = table.Column<bool>(type: "INTEGER", nullable: false),
                    ReleaseJustification = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    QuarantinedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    QuarantinedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    QuarantineReason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ProductLots", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ProductUnits",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    UnitId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    LotId = table.Column<long>(type: "INTEGER", nullable: false),
                    CellsPerUnit = table.Column<long>(type: "INTEGER", nullable: false),
                    ViabilityAtRelease = table.Column<decimal>(type: "TEXT", precision: 5, scale: 1, nullable: false),
                    Expiry = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    StorageLocation = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    State = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    PreparationId = table.Column<long>(type: "INTEGER", nullable: true),
                    ExcursionReported = table.Column<bool>(type: "INTEGER", nullable: false),
                    Version = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ProductUnits", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ProductUnits_DosePreparations_PreparationId",
                        column: x => x.PreparationId,
                        principalTable: "DosePreparations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_ProductUnits_ProductLots_LotId",
                        column: x => x.LotId,
                        principalTable: "ProductLots",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "ProductEvents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    LotId = table.Column<long>(type: "INTEGER", nullable: true),
                    UnitId = table.Column<long>(type: "INTEGER", nullable: true),
                    PreparationId = table.Column<long>(type: "INTEGER", nullable: true),
                    ProductId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: true),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 48, nullable: false),
                    From = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    To = table.Column<string>(type: "TEXT", maxLength: 16, nullable: true),
                    At = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    By = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Role = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false),
                    Detail = table.Column<string>(type: "TEXT", maxLength: 2000, nullable: false),
                    AuditSequence = table.Column<long>(type: "INTEGER", nullable: true)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ProductEvents", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ProductEvents_AuditEvents_AuditSequence",
                        column: x => x.AuditSequence,
                        principalTable: "AuditEvents",
                        principalColumn: "Sequence",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_ProductEvents_DosePreparations_PreparationId",
                        column: x => x.PreparationId,
                        principalTable: "DosePreparations",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_ProductEvents_ProductLots_LotId",
                        column: x => x.LotId,
                        principalTable: "ProductLots",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                    table.ForeignKey(
                        name: "FK_ProductEvents_ProductUnits_UnitId",
                        column: x => x.UnitId,
                        principalTable: "ProductUnits",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_DosePreparations_ParticipantId",
                table: "DosePreparations",
                column: "ParticipantId");

            migrationBuilder.CreateIndex(
                name: "IX_DosePreparations_ProductId",
                table: "DosePreparations",
                column: "ProductId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_AuditSequence",
                table: "ProductEvents",
                column: "AuditSequence");

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_LotId",
                table: "ProductEvents",
                column: "LotId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_ParticipantId",
                table: "ProductEvents",
                column: "ParticipantId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_PreparationId",
                table: "ProductEvents",
                column: "PreparationId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_ProductId",
                table: "ProductEvents",
                column: "ProductId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductEvents_UnitId",
                table: "ProductEvents",
                column: "UnitId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductLots_LotNumber",
                table: "ProductLots",
                column: "LotNumber",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ProductUnits_LotId_State",
                table: "ProductUnits",
                columns: new[] { "LotId", "State" });

            migrationBuilder.CreateIndex(
                name: "IX_ProductUnits_PreparationId",
                table: "ProductUnits",
                column: "PreparationId");

            migrationBuilder.CreateIndex(
                name: "IX_ProductUnits_UnitId",
                table: "ProductUnits",
                column: "UnitId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "ProductEvents");

            migrationBuilder.DropTable(
                name: "ProductUnits");

            migrationBuilder.DropTable(
                name: "DosePreparations");

            migrationBuilder.DropTable(
                name: "ProductLots");
        }
    }
}
