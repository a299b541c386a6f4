using System;
using Microsoft.EntityFrameworkCore.Migrations;

#nullable disable

namespace Cratus.Randomization.Server.Persistence.Sqlite.Migrations
{
    /// <inheritdoc />
    public partial class RandomizedInError : Migration
    {
        /// <inheritdoc />
        protected override void Up(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.AddColumn<string>(
                name: "CorrectSex",
                table: "Participants",
                type: "TEXT",
                maxLength: 8,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "CorrectSiteCode",
                table: "Participants",
                type: "TEXT",
                maxLength: 16,
                nullable: true);

            migrationBuilder.AddColumn<DateTimeOffset>(
                name: "RandomizedInErrorAt",
                table: "Participants",
                type: "TEXT",
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RandomizedInErrorBy",
                table: "Participants",
                type: "TEXT",
                maxLength: 128,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RandomizedInErrorReason",
                table: "Participants",
                type: "TEXT",
                maxLength: 1000,
                nullable: true);

            migrationBuilder.AddColumn<string>(
                name: "RandomizedInErrorType",
                table: "Participants",
                type: "TEXT",
                maxLength: 16,
                nullable: true);
        }

        /// <inheritdoc />
        protected override void Down(MigrationBuilder migrationBuilder)
        {
            migrationBuilder.DropColumn(
                name: "CorrectSex",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "CorrectSiteCode",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "RandomizedInErrorAt",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "RandomizedInErrorBy",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "RandomizedInErrorReason",
                table: "Participants");

            migrationBuilder.DropColumn(
                name: "RandomizedInErrorType",
                table: "Participants");
        }
    }
}
