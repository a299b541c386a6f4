using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class InitialSchema : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "Schedules",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    TrialId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Source = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    SeedHex = table.Column<string>(type: "TEXT", maxLength: 64, nullable: true),
                    SaltHex = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    BlockSizes = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    CommitmentSha256 = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    CommittedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    CommittedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Schedules", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "ScheduleEntries",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ScheduleId = table.Column<long>(type: "INTEGER", nullable: false),
                    Stratum = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Sequence = table.Column<int>(type: "INTEGER", nullable: false),
                    RandomizationNumber = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    ArmCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_ScheduleEntries", x => x.Id);
                    table.ForeignKey(
                        name: "FK_ScheduleEntries_Schedules_ScheduleId",
                        column: x => x.ScheduleId,
                        principalTable: "Schedules",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateTable(
                name: "Participants",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    SiteCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    ScreeningId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Stratum = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    StratumSequence = table.Column<int>(type: "INTEGER", nullable: false),
                    ScheduleEntryId = table.Column<long>(type: "INTEGER", nullable: false),
                    ProductCode = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    RandomizedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    RandomizedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    RandomizedByRole = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    ConsentDate = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    AgeAtConsent = table.Column<int>(type: "INTEGER", nullable: false),
                    Sex = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    ClinicalFrailtyScale = table.Column<int>(type: "INTEGER", nullable: false),
                    MmseScore = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_Participants", x => x.Id);
                    table.ForeignKey(
                        name: "FK_Participants_ScheduleEntries_ScheduleEntryId",
                        column: x => x.ScheduleEntryId,
                        principalTable: "ScheduleEntries",
                        principalColumn: "Id",
                        onDelete: ReferentialAction.Restrict);
                });

            migrationBuilder.CreateIndex(
                name: "IX_Participants_ParticipantId",
                table: "Participants",
                column: "ParticipantId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_ProductCode",
                table: "Participants",
                column: "ProductCode",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_RequestId",
                table: "Participants",
                column: "RequestId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_ScheduleEntryId",
                table: "Participants",
                column: "ScheduleEntryId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_SiteCode_ScreeningId",
                table: "Participants",
                columns: new[] { "SiteCode", "ScreeningId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Participants_Stratum_StratumSequence",
                table: "Participants",
                columns: new[] { "Stratum", "StratumSequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleEntries_RandomizationNumber",
                table: "ScheduleEntries",
                column: "RandomizationNumber",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleEntries_ScheduleId",
                table: "ScheduleEntries",
                column: "ScheduleId");

            migrationBuilder.CreateIndex(
                name: "IX_ScheduleEntries_Stratum_Sequence",
                table: "ScheduleEntries",
                columns: new[] { "Stratum", "Sequence" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_Schedules_TrialId",
                table: "Schedules",
                column: "TrialId",
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "Participants");

            migrationBuilder.DropTable(
                name: "ScheduleEntries");

            migrationBuilder.DropTable(
                name: "Schedules");
        }
    }
}
