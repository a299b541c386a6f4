using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Migrations
{
    /// <inheritdoc />
    public partial class DoseEscalation : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.CreateTable(
                name: "CohortEnrolments",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    SiteCode = table.Column<string>(type: "TEXT", maxLength: 16, nullable: false),
                    ScreeningId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    RequestId = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Cohort = table.Column<int>(type: "INTEGER", nullable: false),
                    Place = table.Column<int>(type: "INTEGER", nullable: true),
                    ProductCode = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    EnrolledAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    EnrolledBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    InfusedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    InfusionRecordedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: true),
                    WithdrawnAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: true),
                    WithdrawalReason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: true),
                    ConsentDate = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    AgeAtConsent = table.Column<int>(type: "INTEGER", nullable: false),
                    Sex = table.Column<string>(type: "TEXT", maxLength: 8, nullable: false),
                    ClinicalFrailtyScale = table.Column<int>(type: "INTEGER", nullable: false),
                    MmseScore = table.Column<int>(type: "INTEGER", nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_CohortEnrolments", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "DsmbDecisions",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    Kind = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Cohort = table.Column<int>(type: "INTEGER", nullable: false),
                    DecidedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    DecidedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false),
                    Reason = table.Column<string>(type: "TEXT", maxLength: 1000, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_DsmbDecisions", x => x.Id);
                });

            migrationBuilder.CreateTable(
                name: "SafetyEvents",
                columns: table => new
                {
                    Id = table.Column<long>(type: "INTEGER", nullable: false)
                        .Annotation("Sqlite:Autoincrement", true),
                    ParticipantId = table.Column<string>(type: "TEXT", maxLength: 32, nullable: false),
                    Type = table.Column<string>(type: "TEXT", maxLength: 64, nullable: false),
                    Onset = table.Column<DateOnly>(type: "TEXT", nullable: false),
                    Serious = table.Column<bool>(type: "INTEGER", nullable: false),
                    TreatmentEmergent = table.Column<bool>(type: "INTEGER", nullable: false),
                    ReportedAt = table.Column<DateTimeOffset>(type: "TEXT", nullable: false),
                    ReportedBy = table.Column<string>(type: "TEXT", maxLength: 128, nullable: false)
                },
                constraints: table =>
                {
                    table.PrimaryKey("PK_SafetyEvents", x => x.Id);
                });

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_Cohort_Place",
                table: "CohortEnrolments",
                columns: new[] { "Cohort", "Place" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_ParticipantId",
                table: "CohortEnrolments",
                column: "ParticipantId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_ProductCode",
                table: "CohortEnrolments",
                column: "ProductCode",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_RequestId",
                table: "CohortEnrolments",
                column: "RequestId",
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_CohortEnrolments_SiteCode_ScreeningId",
                table: "CohortEnrolments",
                columns: new[] { "SiteCode", "ScreeningId" },
                unique: true);

            migrationBuilder.CreateIndex(
                name: "IX_SafetyEvents_ParticipantId",
                table: "SafetyEvents",
                column: "ParticipantId");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropTable(
                name: "CohortEnrolments");

            migrationBuilder.DropTable(
                name: "DsmbDecisions");

            migrationBuilder.DropTable(
                name: "SafetyEvents");
        }
    }
}
