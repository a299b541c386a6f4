using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class IntegritySeals : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "EntrySeal",
                table: "ScheduleEntries",
                type: "TEXT",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "AllocationSeal",
                table: "Participants",
                type: "TEXT",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "AllocationSeal",
                table: "CohortEnrolments",
                type: "TEXT",
                maxLength: 80,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "KeyId",
                table: "AuditEvents",
                type: "TEXT",
                maxLength: 16,
                nullable: false,
                defaultValue: "");

            migrationBuilder.AddColumn<string>(
                name: "Mac",
                table: "AuditEvents",
                type: "TEXT",
                maxLength: 64,
                nullable: false,
                defaultValue: "");
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "EntrySeal",
                table: "ScheduleEntries");

            migrationBuilder.DropColumn(
                name: "AllocationSeal",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "AllocationSeal",
                table: "CohortEnrolments");

            migrationBuilder.DropColumn(
                name: "KeyId",
                table: "AuditEvents");

            migrationBuilder.DropColumn(
                name: "Mac",
                table: "AuditEvents");
        }
    }
}
