using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.PostgreSql.Migrations
{
    /// <inheritdoc />
    public partial class ScheduleAmendments : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Schedules_TrialId",
                table: "Schedules");

            migrationBuilder.AddColumn<string>(
                name: "DesignSealed",
                table: "Schedules",
                type: "character varying(1024)",
                maxLength: 1024,
                nullable: true);

            migrationBuilder.AddColumn<int>(
                name: "Part",
                table: "Schedules",
                type: "integer",
                nullable: false,
                defaultValue: 0);

            migrationBuilder.AddColumn<string>(
                name: "PreviousCommitmentSha256",
                table: "Schedules",
                type: "character varying(64)",
                maxLength: 64,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "SiteCode",
                table: "Schedules",
                type: "character varying(16)",
                maxLength: 16,
                nullable: true);

            migrationBuilder.CreateIndex(
                name: "IX_Schedules_TrialId_Part",
                table: "Schedules",
                columns: new[] { "TrialId", "Part" },
                unique: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropIndex(
                name: "IX_Schedules_TrialId_Part",
                table: "Schedules");

            migrationBuilder.DropColumn(
                name: "DesignSealed",
                table: "Schedules");

            migrationBuilder.DropColumn(
                name: "Part",
                table: "Schedules");

            migrationBuilder.DropColumn(
                name: "PreviousCommitmentSha256",
                table: "Schedules");

            migrationBuilder.DropColumn(
                name: "SiteCode",
                table: "Schedules");

            migrationBuilder.CreateIndex(
                name: "IX_Schedules_TrialId",
                table: "Schedules",
                column: "TrialId",
                unique: true);
        }
    }
}
